/** Baseline: the fastest a Deno HTTP handler answers `/health`. */
const port = Number(Deno.args[0] ?? 0);
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, () => Response.json({ status: "ok" }));
