/**
 * Baseline: the fastest a Deno HTTP handler answers `/health`. With `--request-id` it also sends
 * a fresh `X-Request-Id`, so its response carries the same headers as edgebox's: Deno writes a
 * response with one header on a faster path than one with two, and that cost is not middleware.
 */
const port = Number(Deno.args[0] ?? 0);
const withRequestId = Deno.args.includes("--request-id");
const body = { status: "ok" };
Deno.serve(
  {
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(`listening ${port}`),
  },
  withRequestId
    ? () => {
      const response = Response.json(body);
      response.headers.set("x-request-id", crypto.randomUUID());
      return response;
    }
    : () => Response.json(body),
);
