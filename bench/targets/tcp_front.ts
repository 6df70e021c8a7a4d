/**
 * What bounding head and idle time in-process would take under Deno.serve (which bounds neither):
 * a TCP front that accepts connections itself, times them (head within `HEAD_MS` of connecting,
 * no byte either way for `IDLE_MS`) and pumps bytes to the HTTP server behind it. Used only by
 * `bench/slow_clients.ts` to measure that cost; edgebox does not ship it (README: Security).
 *
 *   deno run --allow-net bench/targets/tcp_front.ts <listen port> <upstream port>
 */
const [listenPort, upstreamPort] = Deno.args.map(Number);
const HEAD_MS = 10_000;
const IDLE_MS = 120_000;
const END_OF_HEAD = [13, 10, 13, 10];

const listener = Deno.listen({ hostname: "127.0.0.1", port: listenPort! });
console.log(`listening ${listenPort}`);
let now = performance.now();
setInterval(() => now = performance.now(), 250); // a coarse clock: one timer for every connection

for await (const client of listener) void front(client);

async function front(client: Deno.Conn): Promise<void> {
  let upstream: Deno.Conn;
  try {
    upstream = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort! });
  } catch {
    client.close();
    return;
  }
  const opened = now;
  let last = now;
  let headSeen = false;
  let matched = 0;
  const close = () => {
    clearInterval(watch);
    try {
      client.close();
    } catch { /* closed */ }
    try {
      upstream.close();
    } catch { /* closed */ }
  };
  const watch = setInterval(() => {
    if ((!headSeen && now - opened > HEAD_MS) || now - last > IDLE_MS) close();
  }, 1_000);
  const pump = async (from: Deno.Conn, to: Deno.Conn, inbound: boolean) => {
    const buffer = new Uint8Array(16_384);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        last = now;
        if (inbound && !headSeen) {
          for (let i = 0; i < n && !headSeen; i++) {
            matched = buffer[i] === END_OF_HEAD[matched] ? matched + 1 : buffer[i] === 13 ? 1 : 0;
            if (matched === 4) headSeen = true;
          }
        }
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      }
    } catch { /* reset: close both */ }
    close();
  };
  await Promise.all([pump(client, upstream, true), pump(upstream, client, false)]);
}
