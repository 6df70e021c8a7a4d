/**
 * The storage contract on the filesystem backend (always runs), plus what only a directory on
 * disk can show: the temp sweep, durability across a restart, and signed URL expiry.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FilesystemStorage } from "../../plugins/storage/filesystem.ts";
import {
  readAll,
  rejectsWith,
  runStorageContract,
  STANDARD_HEADERS,
  type StorageTarget,
  streamOf,
  type TargetOptions,
} from "./storage_contract.ts";

const SANITIZED = { sanitizeOps: true, sanitizeResources: true } as const;

async function count(dir: string, recursive = true): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) total++;
      else if (recursive && entry.isDirectory) total += await count(join(dir, entry.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return total;
}

function options(root: string, overrides: TargetOptions = {}) {
  return {
    root,
    fsync: false,
    maxObjectSize: overrides.maxObjectSize ?? 2 ** 30,
    maxKeyLength: 1024,
    presign: { scope: "storage" },
  };
}

async function openFilesystem(overrides?: TargetOptions): Promise<StorageTarget> {
  const root = await Deno.makeTempDir({ prefix: "edgebox-storage-" });
  const driver = new FilesystemStorage(options(root, overrides));
  await driver.connect();
  return {
    driver,
    // Whatever is in tmp/, and any blob no sidecar names, is a leftover of a failed upload.
    async partialUploads() {
      const inTmp = await count(join(root, "tmp"));
      const orphanBlobs = await count(join(root, "blobs")) - await count(join(root, "objects"));
      return inTmp + orphanBlobs;
    },
    async [Symbol.asyncDispose]() {
      await driver.close();
      await Deno.remove(root, { recursive: true });
    },
  };
}

runStorageContract("filesystem", openFilesystem);

Deno.test({
  name: "filesystem: leftovers of a crash in tmp/ are swept at the first connect",
  ...SANITIZED,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "edgebox-storage-" });
    try {
      await Deno.mkdir(join(root, "tmp"), { recursive: true });
      await Deno.writeTextFile(join(root, "tmp", "half-written"), "partial");
      await using driver = new FilesystemStorage(options(root));
      await driver.connect();
      assert.equal(await count(join(root, "tmp")), 0);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "filesystem: objects survive a restart on the same root",
  ...SANITIZED,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "edgebox-storage-" });
    try {
      {
        await using first = new FilesystemStorage(options(root));
        await first.connect();
        await first.put("kept/across/restart", streamOf(new TextEncoder().encode("durable")), {
          contentType: "text/plain",
          metadata: { a: "b" },
        });
      }
      await using second = new FilesystemStorage(options(root));
      await second.connect();
      const result = await second.get("kept/across/restart");
      assert.equal(result.kind, "body");
      if (result.kind !== "body") return;
      assert.equal(new TextDecoder().decode(await readAll(result.body)), "durable");
      assert.deepEqual(result.info.metadata, { a: "b" });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "filesystem: a sidecar written before headers were stored reads as having none",
  ...SANITIZED,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "edgebox-storage-" });
    try {
      await using driver = new FilesystemStorage(options(root));
      await driver.connect();
      await driver.put("old", streamOf(new TextEncoder().encode("legacy")), {
        contentType: "text/plain",
        metadata: { a: "b" },
      });
      await driver.put("new", streamOf(new TextEncoder().encode("x")), {
        headers: STANDARD_HEADERS,
      });
      const oldPath = join(root, "objects", "old.meta");
      const sidecar = JSON.parse(await Deno.readTextFile(oldPath));
      // What an edgebox without stored headers wrote: exactly these fields.
      assert.deepEqual(Object.keys(sidecar).sort(), [
        "blob",
        "contentType",
        "etag",
        "key",
        "lastModified",
        "metadata",
        "size",
        "v",
      ]);
      const written = JSON.parse(await Deno.readTextFile(join(root, "objects", "new.meta")));
      assert.equal(written.v, 1);
      assert.deepEqual(written.headers, STANDARD_HEADERS);
      const info = await driver.head("old");
      assert.deepEqual(info.headers, {});
      assert.deepEqual(info.metadata, { a: "b" });
      // A sidecar edited by hand with a wrong type keeps only the string values.
      await Deno.writeTextFile(
        oldPath,
        JSON.stringify({ ...sidecar, headers: { cacheControl: 7, expires: "x", other: "y" } }),
      );
      assert.deepEqual((await driver.head("old")).headers, { expires: "x" });
      const copied = await driver.copy("new", "copy");
      assert.equal(copied.size, 1);
      assert.deepEqual((await driver.head("copy")).headers, STANDARD_HEADERS);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "filesystem: a signed URL stops working when it expires",
  ...SANITIZED,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "edgebox-storage-" });
    let now = Date.parse("2030-01-01T00:00:00Z");
    try {
      await using driver = new FilesystemStorage({
        ...options(root),
        presign: {
          scope: "storage",
          secret: new TextEncoder().encode("x".repeat(32)),
          now: () => now,
        },
      });
      await driver.connect();
      const signed = await driver.presign("k", {
        method: "GET",
        expiresIn: 60,
        routeUrl: "http://h",
      });
      const url = new URL(signed.url);
      const request = {
        key: "k",
        method: "GET" as const,
        expires: url.searchParams.get("expires")!,
        signature: url.searchParams.get("signature")!,
      };
      now += 59_000;
      await driver.verifySignedUrl(request);
      now += 1_000;
      await rejectsWith(driver.verifySignedUrl(request), "storage.signature_expired");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "filesystem: a URL signed for one instance fails on another",
  ...SANITIZED,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "edgebox-storage-" });
    const secret = new TextEncoder().encode("s".repeat(32));
    try {
      await using a = new FilesystemStorage({ ...options(root), presign: { scope: "a", secret } });
      await using b = new FilesystemStorage({ ...options(root), presign: { scope: "b", secret } });
      const url = new URL(
        (await a.presign("k", { method: "GET", expiresIn: 60, routeUrl: "http://h" })).url,
      );
      const request = {
        key: "k",
        method: "GET" as const,
        expires: url.searchParams.get("expires")!,
        signature: url.searchParams.get("signature")!,
      };
      await a.verifySignedUrl(request);
      await rejectsWith(b.verifySignedUrl(request), "storage.signature_invalid");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "filesystem: lists an object and the objects below its key together",
  ...SANITIZED,
  async fn() {
    // Not in the shared contract: MinIO drops `a/b` from listings when `a` exists too.
    await using target = await openFilesystem();
    const { driver } = target;
    for (const key of ["a/b", "a", "a-z", "a/c/d"]) {
      await driver.put(key, streamOf(new TextEncoder().encode(key)));
    }
    const flat = await driver.list({ limit: 10 });
    assert.deepEqual(flat.objects.map((o) => o.key), ["a", "a-z", "a/b", "a/c/d"]);
    const grouped = await driver.list({ delimiter: "/", limit: 10 });
    assert.deepEqual(grouped.objects.map((o) => o.key), ["a", "a-z"]);
    assert.deepEqual(grouped.prefixes, ["a/"]);
  },
});
