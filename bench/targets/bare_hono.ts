/** Baseline: a bare Hono app answering `/health`, no middleware. */
import { Hono } from "hono";

const app = new Hono();
app.get("/health", (c) => c.json({ status: "ok" }));
const port = Number(Deno.args[0] ?? 0);
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, app.fetch);
