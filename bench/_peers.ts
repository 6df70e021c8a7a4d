/**
 * The Node side of the fair peers: installs Fastify 5, ioredis and prom-client once into a cache
 * folder outside the repo (BENCH_PEERS_DIR, default ~/.cache/edgebox/bench-peers) and puts
 * bench/targets/peer_fastify.ts's server beside them, where Node resolves its imports. Not a bench itself.
 */

import { FASTIFY_PEER } from "./targets/peer_fastify.ts";

const PACKAGES = ["fastify@5.12.8", "ioredis@6.0.0", "prom-client@15.1.3"];

/** The folder the Node peer's packages live in. */
export function peersDir(): string {
  const home = Deno.env.get("HOME") ?? "/tmp";
  return Deno.env.get("BENCH_PEERS_DIR") ?? `${home}/.cache/edgebox/bench-peers`;
}

/** Installs the packages unless present; returns the path of the Fastify peer to run with node. */
export async function prepareFastifyPeer(): Promise<string> {
  const dir = peersDir();
  const installed = await Promise.all(
    PACKAGES.map((spec) => spec.slice(0, spec.lastIndexOf("@"))).map((name) =>
      Deno.stat(`${dir}/node_modules/${name}/package.json`).then(() => true, () => false)
    ),
  );
  if (installed.includes(false)) {
    console.log(`installing ${PACKAGES.join(", ")} into ${dir}`);
    await Deno.mkdir(dir, { recursive: true });
    const out = await new Deno.Command("npm", {
      args: ["install", "--prefix", dir, "--no-audit", "--no-fund", ...PACKAGES],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`npm install failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  const server = `${dir}/peer_fastify.mjs`;
  await Deno.writeTextFile(server, FASTIFY_PEER);
  return server;
}
