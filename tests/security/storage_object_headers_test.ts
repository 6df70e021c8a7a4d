/**
 * The standard object headers as adversarial input, through the storage plugin's HTTP routes:
 * any value the rules accept (`plugins/storage/object_headers.ts`) is stored and answered
 * byte-identical on GET and HEAD; any value with a control character, DEL or non-ASCII text,
 * and any `Expires` that is not an IMF-fixdate, is refused with a 400 naming the header and
 * nothing is stored. Runs on the filesystem backend always and on S3 (MinIO) when it is
 * reachable, each run under a key prefix of its own, purged at the end.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { storagePlugin } from "../../plugins/storage/mod.ts";
import { STORED_HEADERS } from "../../plugins/storage/object_headers.ts";
import { realService } from "../contract/_services.ts";
import { configYaml, openApp, problemOf, type RunningApp, SANITIZED } from "../_helpers.ts";
import { runs } from "./_fc.ts";

const registry = new Map([["storage", storagePlugin]]);
const RELAXED = { healthInterval: "1h", timeouts: { start: "10s", ready: "10s", stop: "10s" } };

type HeaderName = (typeof STORED_HEADERS)[keyof typeof STORED_HEADERS]["name"];

/** Printable ASCII, space included: what a value may hold. */
const printable = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));

/** A printable value of `min`..`max` characters, as Fetch sends it (no space at either end). */
function printableValue(max: number): fc.Arbitrary<string> {
  return fc.string({ unit: printable, minLength: 1, maxLength: max })
    .map((value) => value.trim())
    .filter((value) => value.length > 0);
}

const token = fc.string({
  unit: fc.constantFrom(
    ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+.^_`|~-",
  ),
  minLength: 1,
  maxLength: 12,
}).filter((coding) => coding.toLowerCase() !== "aws-chunked");

const separator = fc.constantFrom(",", ", ", " ,", " , ", ",  ");

function list(item: fc.Arbitrary<string>, max: number): fc.Arbitrary<string> {
  return fc.tuple(item, fc.array(fc.tuple(separator, item), { maxLength: 4 }))
    .map(([first, rest]) => first + rest.map(([sep, next]) => sep + next).join(""))
    .filter((value) => value.length <= max);
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const languageTag = fc.tuple(
  fc.string({ unit: fc.constantFrom(...alnum.slice(0, 52)), minLength: 1, maxLength: 8 }),
  fc.array(fc.string({ unit: fc.constantFrom(...alnum), minLength: 1, maxLength: 8 }), {
    maxLength: 3,
  }),
).map(([primary, subtags]) => [primary, ...subtags].join("-"));

/** Any instant S3 clients could write (years 1000 to 9999), as an IMF-fixdate. */
const instant = fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59) })
  .map((ms) => new Date(Math.floor(ms / 1000) * 1000));

/** An accepted value for each header. */
const ACCEPTED: Record<HeaderName, fc.Arbitrary<string>> = {
  "cache-control": printableValue(STORED_HEADERS.cacheControl.maxLength),
  "content-disposition": printableValue(STORED_HEADERS.contentDisposition.maxLength),
  "content-encoding": list(token, STORED_HEADERS.contentEncoding.maxLength),
  "content-language": list(languageTag, STORED_HEADERS.contentLanguage.maxLength),
  "expires": instant.map((date) => date.toUTCString()),
};

const NAMES = Object.keys(ACCEPTED) as HeaderName[];

/**
 * A character the rules refuse that Fetch still sends: controls (NUL, CR and LF aside, which no
 * request can carry), DEL, and Latin-1 beyond ASCII.
 */
const forbidden = fc.oneof(
  fc.integer({ min: 0x01, max: 0x1f }).filter((code) => code !== 0x0a && code !== 0x0d),
  fc.constant(0x7f),
  fc.integer({ min: 0x80, max: 0xff }),
).map((code) => String.fromCharCode(code));

/** An accepted value with a forbidden character put inside it (never at an end Fetch trims). */
const withForbidden = fc.constantFrom(...NAMES).chain((name) =>
  fc.tuple(fc.constant(name), ACCEPTED[name], forbidden, fc.nat()).map(
    ([name, value, bad, at]) => {
      const cut = 1 + (at % value.length);
      return { name, value: `${value.slice(0, cut)}${bad}${value.slice(cut)}x` };
    },
  )
);

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

/** The same instant in a form other than IMF-fixdate, or with a weekday that does not match. */
const notImfFixdate = fc.tuple(
  instant,
  fc.integer({ min: 0, max: 5 }),
  fc.integer({ min: 1, max: 6 }),
)
  .map(([date, form, shift]) => {
    const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${
      pad(date.getUTCSeconds())
    }`;
    const day = date.getUTCDate();
    const month = MONTHS[date.getUTCMonth()]!;
    const year = date.getUTCFullYear();
    const weekday = DAYS[date.getUTCDay()]!;
    switch (form) {
      case 0: // the weekday of another day
        return `${DAYS[(date.getUTCDay() + shift) % 7]}, ${pad(day)} ${month} ${year} ${time} GMT`;
      case 1: // asctime
        return `${weekday} ${month} ${String(day).padStart(2, " ")} ${time} ${year}`;
      case 2: // ISO 8601
        return date.toISOString();
      case 3: // a zone other than GMT
        return `${weekday}, ${pad(day)} ${month} ${year} ${time} UTC`;
      case 4: // epoch seconds
        return String(Math.floor(date.getTime() / 1000));
      default: // lower-case month
        return `${weekday}, ${pad(day)} ${month.toLowerCase()} ${year} ${time} GMT`;
    }
  });

function url(prefix: string, key: string): string {
  return `/v1/storage/objects/${prefix}/${key}`;
}

/** Every accepted value comes back byte-identical on GET and HEAD. */
async function checkRoundTrip(app: RunningApp, prefix: string, numRuns: number): Promise<void> {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.record(ACCEPTED, { requiredKeys: [] }),
      async (headers) => {
        const key = url(prefix, `ok-${++n}`);
        const put = await app.request(key, { method: "PUT", body: "x", headers });
        const written = await put.text();
        assert.equal(put.status, 201, `${JSON.stringify(headers)}: ${written}`);
        for (const method of ["GET", "HEAD"]) {
          const response = await app.request(key, { method });
          assert.equal(response.status, 200);
          await response.body?.cancel();
          for (const name of NAMES) {
            assert.equal(response.headers.get(name), headers[name] ?? null, `${method} ${name}`);
          }
        }
        const gone = await app.request(key, { method: "DELETE" });
        await gone.body?.cancel();
      },
    ),
    runs(numRuns),
  );
}

/** Every refused value is a 400 naming its header, and nothing is stored. */
async function checkRefusals(app: RunningApp, prefix: string, numRuns: number): Promise<void> {
  let n = 0;
  const refused = fc.oneof(
    withForbidden,
    notImfFixdate.map((value) => ({ name: "expires" as HeaderName, value })),
  );
  await fc.assert(
    fc.asyncProperty(refused, async ({ name, value }) => {
      const key = url(prefix, `refused-${++n}`);
      const put = await app.request(key, { method: "PUT", body: "x", headers: { [name]: value } });
      assert.equal(put.status, 400, `${name}: ${JSON.stringify(value)}`);
      const problem = await problemOf(put);
      assert.equal(problem.code, "core.validation_failed");
      assert.equal(problem.field, `header.${name}`);
      const after = await app.request(key, { method: "HEAD" });
      assert.equal(after.status, 404);
    }),
    runs(numRuns),
  );
}

Deno.test({
  name: "stored headers (filesystem): accepted values round-trip exactly, bad ones are refused",
  ...SANITIZED,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "edgebox-storage-headers-" });
    try {
      await using app = await openApp(
        configYaml({ storage: { backend: "filesystem", root, fsync: false, ...RELAXED } }),
        registry,
      );
      await checkRoundTrip(app, "headers", 150);
      await checkRefusals(app, "headers", 200);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

const endpoint = Deno.env.get("S3_ENDPOINT") ?? "http://127.0.0.1:9000";

if (await realService("minio", endpoint, 9000)) {
  Deno.test({
    name: "stored headers (s3): accepted values round-trip exactly, bad ones are refused",
    ...SANITIZED,
    async fn() {
      await using app = await openApp(
        configYaml({
          storage: {
            backend: "s3",
            endpoint,
            bucket: Deno.env.get("S3_BUCKET") ?? "edgebox-test",
            accessKeyId: Deno.env.get("S3_ACCESS_KEY") ?? "minioadmin",
            secretAccessKey: Deno.env.get("S3_SECRET_KEY") ?? "minioadmin",
            forcePathStyle: true,
            createBucket: true,
            // Below the SDK's thresholds for timers that would outlive the test.
            connectTimeout: "1500ms",
            idleTimeout: "5s",
            ...RELAXED,
          },
        }),
        registry,
      );
      const prefix = `headers-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await checkRoundTrip(app, prefix, 60);
        await checkRefusals(app, prefix, 60);
      } finally {
        await purge(app, `${prefix}/`);
      }
    },
  });
}

/** Deletes every object under `prefix` through the API. */
async function purge(app: RunningApp, prefix: string): Promise<void> {
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ prefix, limit: "1000" });
    if (cursor) query.set("cursor", cursor);
    const page = await (await app.request(`/v1/storage/objects?${query}`)).json();
    for (const object of page.objects as { key: string }[]) {
      const response = await app.request(`/v1/storage/objects/${object.key}`, {
        method: "DELETE",
      });
      await response.body?.cancel();
    }
    cursor = page.cursor;
  } while (cursor);
}
