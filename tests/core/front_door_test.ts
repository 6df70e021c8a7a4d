/**
 * What a newcomer sees from a running edgebox: the OpenAPI document declares what each operation
 * needs (a key and its scope on /v1/*, nothing on public routes), the access line of an unmatched
 * route names its path, and the filesystem storage's presigned URLs survive a restart without a
 * configured presignSecret (and without a warning at every first start).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { echoPlugin } from "../../plugins/echo/mod.ts";
import { FilesystemStorage, filesystemStorageOptions } from "../../plugins/storage/filesystem.ts";
import { capturingLog, configYaml, openApp, SANITIZED } from "../_helpers.ts";
import { createHarness } from "./_harness.ts";

const KEY = "a-test-key-of-enough-length";

type Operation = { security?: unknown[]; "x-required-scope"?: string };
type Document = { paths: Record<string, Record<string, Operation>> };

Deno.test(
  "with auth on, every /v1 operation declares the key and scope it needs",
  SANITIZED,
  async () => {
    const h = createHarness({ test: [] }, [echoPlugin]);
    await using running = await openApp(
      configYaml({ echo: {} }, { auth: { keys: [{ name: "ci", key: KEY }] } }),
      h.registry,
    );
    const doc = await (await running.request("/openapi.json")).json() as Document;
    const v1 = Object.entries(doc.paths).filter(([path]) => path.startsWith("/v1/"));
    assert.ok(v1.length > 0);
    for (const [path, operations] of v1) {
      for (const [method, operation] of Object.entries(operations)) {
        assert.deepEqual(operation.security, [{ apiKey: [] }], `${method} ${path}`);
        assert.match(
          operation["x-required-scope"] ?? "",
          /^echo:(read|write)$/,
          `${method} ${path}`,
        );
      }
    }
    assert.equal(doc.paths["/v1/echo"]!.get!["x-required-scope"], "echo:read");
    assert.deepEqual(doc.paths["/health"]!.get!.security, []);
    assert.deepEqual(doc.paths["/plugins"]!.get!.security, [{ apiKey: [] }]);
    assert.equal(doc.paths["/plugins"]!.get!["x-required-scope"], "admin");
  },
);

Deno.test("with auth off, the document says no key is needed", SANITIZED, async () => {
  const h = createHarness({ test: [] }, [echoPlugin]);
  await using running = await openApp(configYaml({ echo: {} }), h.registry);
  const doc = await (await running.request("/openapi.json")).json() as Document;
  assert.deepEqual(doc.paths["/v1/echo"]!.get!.security, []);
});

Deno.test(
  "the access line of an unmatched route carries its path, not its query",
  SANITIZED,
  async () => {
    const h = createHarness({ test: [] }, [echoPlugin]);
    const { log, lines } = capturingLog();
    await using running = await openApp(configYaml({ echo: {} }), h.registry, { log });
    const response = await running.request("/v1/echo/no/such/route?token=hunter2-secret");
    await response.body?.cancel();
    assert.equal(response.status, 404);
    const line = lines.find((l) => l.msg === "request" && l.status === 404);
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.route, "(unmatched)");
    assert.equal(line.path, "/v1/echo/no/such/route");
    assert.doesNotMatch(JSON.stringify(line), /hunter2/);
    const matched = await running.request("/v1/echo");
    await matched.body?.cancel();
    const ok = lines.find((l) => l.msg === "request" && l.status === 200);
    assert.ok(ok && !("path" in ok), "a matched route is labelled by its template only");
  },
);

Deno.test("filesystem presigned URLs survive a restart without a presignSecret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgebox-presign-" });
  const dataDir = { path: dir, file: (name: string) => join(dir, name) } as never;
  const config = {
    backend: "filesystem",
    fsync: false,
    maxObjectSize: 1024,
    maxKeyLength: 1024,
  } as never;
  try {
    const options = filesystemStorageOptions(config, "storage", dataDir);
    assert.equal(options.presign.keyFile, join(dir, "storage", "presign.key"));
    let url: string;
    {
      await using first = new FilesystemStorage(options);
      await first.connect();
      url = (await first.presign("a.txt", {
        method: "GET",
        expiresIn: 600,
        routeUrl: "http://localhost/v1/storage/presigned",
      })).url;
    }
    const query = new URL(url, "http://localhost").searchParams;
    const signed = {
      key: query.get("key")!,
      method: "GET" as const,
      expires: query.get("expires")!,
      signature: query.get("signature")!,
    };
    await using second = new FilesystemStorage(
      filesystemStorageOptions(config, "storage", dataDir),
    );
    await second.connect();
    await second.verifySignedUrl(signed); // throws when the key changed
    const stat = await Deno.stat(options.presign.keyFile!);
    if (Deno.build.os !== "windows") assert.equal(stat.mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
