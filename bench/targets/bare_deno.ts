/**
 * Baseline: the fastest a Deno HTTP handler answers `/health`. With `--request-id` it also does
 * the least that edgebox's HTTP conventions ask of every request: read the path (to route it)
 * and the client's `X-Request-Id`, and echo an id in the response. On Deno each of those is
 * measurable against the bare handler, which touches neither request nor response headers:
 * reading one request header or sending a second response header leaves a fast path.
 */
const port = Number(Deno.args[0] ?? 0);
const withRequestId = Deno.args.includes("--request-id");
const body = { status: "ok" };
const notFound = { status: "not found" };
Deno.serve(
  {
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(`listening ${port}`),
  },
  withRequestId
    ? (request) => {
      // The cheapest way to the path (what Hono's router does too): no URL object.
      const url = request.url;
      const start = url.indexOf("/", url.indexOf("//") + 2);
      const query = url.indexOf("?", start);
      const path = query === -1 ? url.slice(start) : url.slice(start, query);
      const response = path === "/health"
        ? Response.json(body)
        : Response.json(notFound, { status: 404 });
      response.headers.set(
        "x-request-id",
        request.headers.get("x-request-id") ?? crypto.randomUUID(),
      );
      return response;
    }
    : () => Response.json(body),
);
