/** Specification of `core/access_log.ts`: one request line, its JSON built by hand. */
import assert from "node:assert/strict";
import { logAccess } from "../../core/access_log.ts";
import { createLogger, type LogFormat } from "../../core/log.ts";

function capture(format: LogFormat) {
  const lines: string[] = [];
  const log = createLogger({ level: "info", format, write: (line) => lines.push(line) });
  return { log: log.child({ plugin: "core" }), lines };
}

const record = {
  method: "GET",
  route: "/v1/cache/keys/:key",
  status: 200,
  requestId: "req-1",
  durationMs: 0.125,
};

Deno.test("an access line is one JSON object with the record's fields and the context", () => {
  const { log, lines } = capture("json");
  logAccess(log, { ...record, traceId: "0af7651916cd43dd8448eb211c80319c" });
  const line = JSON.parse(lines[0]!);
  assert.equal(line.msg, "request");
  assert.equal(line.level, "info");
  assert.equal(line.plugin, "core");
  assert.deepEqual(
    [line.method, line.route, line.status, line.requestId, line.durationMs, line.traceId],
    ["GET", "/v1/cache/keys/:key", 200, "req-1", 0.125, "0af7651916cd43dd8448eb211c80319c"],
  );
  assert.ok(!Number.isNaN(Date.parse(line.time)));
});

Deno.test("a value that JSON must escape is escaped", () => {
  const { log, lines } = capture("json");
  logAccess(log, { ...record, route: 'odd"route\\with\nbreaks' });
  assert.equal(JSON.parse(lines[0]!).route, 'odd"route\\with\nbreaks');
});

Deno.test("pretty format shows the same fields", () => {
  const { log, lines } = capture("pretty");
  logAccess(log, record);
  assert.match(
    lines[0]!,
    /request\s+plugin=core method=GET route=\/v1\/cache\/keys\/:key status=200/,
  );
});

Deno.test("below info level nothing is written", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "warn", format: "json", write: (line) => lines.push(line) });
  logAccess(log, record);
  assert.deepEqual(lines, []);
});
