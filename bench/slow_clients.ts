/**
 * What it would cost to bound request-head and idle keep-alive time inside edgebox. Deno.serve
 * offers no such timeouts (denoland/deno#3515), so the only in-process way is a TCP front that
 * accepts connections itself and pumps bytes to the HTTP server (bench/targets/tcp_front.ts).
 * This measures edgebox's `GET /health` and `GET /v1/echo` directly and through that front, in
 * the same run, interleaved per round, and prints the ratio. The figures are why edgebox leaves
 * head and idle timeouts to a fronting proxy (README: Security).
 *
 * Tune with BENCH_DURATION (seconds, default 8), BENCH_CONNECTIONS (50), BENCH_ROUNDS (3).
 */
import {
  closedLoad,
  freePort,
  haveWrk,
  type LoadResult,
  medianResult,
  resultRow,
  roundRow,
  withServer,
} from "./_load.ts";

const duration = Number(Deno.env.get("BENCH_DURATION") ?? 8);
const connections = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 50);
const rounds = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const root = new URL("..", import.meta.url).pathname;

const wrk = await haveWrk();
const edgeboxPort = freePort();
const frontPort = freePort();
const paths = ["/health", "/v1/echo"];
console.log(
  `edgebox direct vs through an in-process TCP front, ${connections} connections, ${duration}s x ${rounds} rounds, load from ${
    wrk ? "wrk" : "autocannon"
  }`,
);

await withServer(
  Deno.execPath(),
  ["run", "--allow-all", `${root}main.ts`, "serve", "--port", String(edgeboxPort)],
  `http://127.0.0.1:${edgeboxPort}/health`,
  { env: { NO_COLOR: "1", EDGEBOX_DATA_DIR: await Deno.makeTempDir() } },
  () =>
    withServer(
      Deno.execPath(),
      [
        "run",
        "--allow-net",
        `${root}bench/targets/tcp_front.ts`,
        String(frontPort),
        String(edgeboxPort),
      ],
      `http://127.0.0.1:${frontPort}/health`,
      {},
      async () => {
        const samples = new Map<string, LoadResult[]>();
        for (let round = 1; round <= rounds; round++) {
          for (const path of paths) {
            for (const [via, port] of [["direct", edgeboxPort], ["front", frontPort]] as const) {
              const url = `http://127.0.0.1:${port}${path}`;
              if (round === 1) await closedLoad(url, 2, connections, wrk); // warm-up
              const result = await closedLoad(url, duration, connections, wrk);
              const name = `${path} ${via}`;
              samples.set(name, [...(samples.get(name) ?? []), result]);
              console.log(roundRow(round, name, result));
            }
          }
        }
        console.log("\nmedian of rounds:");
        for (const path of paths) {
          const direct = medianResult(samples.get(`${path} direct`)!);
          const front = medianResult(samples.get(`${path} front`)!);
          console.log(resultRow(`${path} direct`, direct));
          console.log(
            `${resultRow(`${path} front`, front)}  ${
              (front.rps / direct.rps).toFixed(2)
            } of direct`,
          );
        }
      },
    ),
);
