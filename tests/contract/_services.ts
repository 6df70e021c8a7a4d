/**
 * Whether a real service (Redis, NATS, Neo4j, MinIO) is there to run a contract suite against.
 * Where it is not, the suite is reported as ignored with the reason, unless
 * `EDGEBOX_REQUIRE_SERVICES=1` (set by `.ci/run`), where an unreachable service is a failing test:
 * CI can never pass by silently testing less.
 */

/** True when CI demands every real service. */
export const servicesRequired = Deno.env.get("EDGEBOX_REQUIRE_SERVICES") === "1";

/** Why `url` cannot be reached over TCP, or `undefined` when it can. */
export async function unreachable(url: string, defaultPort: number): Promise<string | undefined> {
  let host: string;
  let port: number;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
    port = Number(parsed.port || defaultPort);
  } catch {
    return `"${url}" is not a URL`;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = Deno.connect({ hostname: host, port });
  try {
    const conn = await Promise.race([
      connecting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out after 2s")), 2_000);
      }),
    ]);
    conn.close();
    return undefined;
  } catch (error) {
    // A connect that outlived the timeout still resolves later: close it then.
    connecting.then((conn) => conn.close(), () => {});
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves true when the service at `url` is reachable. Otherwise registers a test that says
 * so (ignored, or failing when services are required) and resolves false.
 */
export async function realService(
  name: string,
  url: string,
  defaultPort: number,
): Promise<boolean> {
  const reason = await unreachable(url, defaultPort);
  if (reason === undefined) return true;
  if (servicesRequired) {
    Deno.test(`${name} at ${url} is reachable (EDGEBOX_REQUIRE_SERVICES=1)`, () => {
      throw new Error(`${name} is required but unreachable at ${url}: ${reason}`);
    });
  } else {
    Deno.test({
      name: `${name} contract suite (ignored: ${url} unreachable: ${reason})`,
      ignore: true,
      fn() {},
    });
  }
  return false;
}
