/**
 * A redis-server of a test's own, on a free port, that it can kill, freeze (SIGSTOP) and thaw,
 * for outage tests that must not touch the shared Redis; and the test registrar for them, which
 * reports them ignored without a `redis-server` binary, or failing when CI requires services.
 */
import { waitFor } from "../_helpers.ts";
import { servicesRequired, unreachable } from "./_services.ts";

/** The redis-server binary (`REDIS_SERVER_BIN`, set by the local stack's services.env). */
export const redisServer = Deno.env.get("REDIS_SERVER_BIN") ?? "redis-server";

const canSpawn = await new Deno.Command(redisServer, { args: ["--version"], stdout: "null" })
  .output().then((out) => out.success, () => false);

/** A port nothing listens on: bound, then released. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Registers a test that starts its own redis-server (see the module doc); `prefix` names it. */
export function ownRedisTest(
  prefix: string,
  name: string,
  options: { sanitizeOps?: boolean; sanitizeResources?: boolean },
  fn: () => Promise<void>,
): void {
  if (canSpawn) {
    Deno.test({ name: `${prefix}: ${name}`, ...options, fn });
  } else if (servicesRequired) {
    Deno.test(`${prefix}: ${name} (${redisServer} is required)`, () => {
      throw new Error(`Cannot run ${redisServer} (EDGEBOX_REQUIRE_SERVICES=1)`);
    });
  } else {
    Deno.test({ name: `${prefix}: ${name} (ignored: no ${redisServer})`, ignore: true, fn });
  }
}

/** One redis-server process without persistence, in a temporary directory of its own. */
export class OwnRedis implements AsyncDisposable {
  readonly port = freePort();
  readonly url = `redis://127.0.0.1:${this.port}`;
  readonly #dir = Deno.makeTempDirSync({ prefix: "edgebox-own-redis-" });
  #child: Deno.ChildProcess | undefined;

  async start(): Promise<void> {
    this.#child = new Deno.Command(redisServer, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdout: "null",
      stderr: "null",
      cwd: this.#dir,
    }).spawn();
    let exited = false;
    this.#child.status.then(() => exited = true);
    await waitFor(
      async () => exited || await unreachable(this.url, this.port) === undefined,
      "redis-server to listen",
    );
    // Another process may have taken the port between freePort() and the bind: then what
    // answers is not this server, and every outage the test causes would miss it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (exited) throw new Error(`redis-server could not listen on ${this.port} (taken meanwhile?)`);
  }

  /** Kills the server (thawing it first, in case a test froze it). */
  async kill(): Promise<void> {
    this.#child?.kill("SIGCONT");
    this.#child?.kill("SIGKILL");
    await this.#child?.status;
    this.#child = undefined;
  }

  signal(signal: Deno.Signal): void {
    this.#child?.kill(signal);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    await Deno.remove(this.#dir, { recursive: true });
  }
}
