/**
 * Object requests and responses as HTTP headers: what a write may say about its body
 * (`Content-Type`, `X-Meta-*`, `Content-MD5`, `X-Checksum-SHA256`, and the standard headers
 * stored with it: `Cache-Control`, `Content-Disposition`, `Content-Encoding`,
 * `Content-Language`, `Expires`; conditions are `conditions.ts`'s), validated with zod, and the
 * headers a read answers with.
 */
import { z } from "zod";
import { validationError } from "../../core/routes.ts";
import { parseHttpDate } from "./conditions.ts";
import type { ObjectInfo, StoredHeaders } from "./driver.ts";
import { storageError } from "./errors.ts";
import type { ByteRange } from "./ranges.ts";
import type { ExpectedChecksum } from "./streams.ts";

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/i;
const HEADER_VALUE = /^[\x20-\x7e]*$/;

/** Prefix of user metadata headers. */
export const META_PREFIX = "x-meta-";

/**
 * The standard headers stored with an object: the HTTP name of each field of
 * {@linkcode StoredHeaders}, and the longest value a write may give it.
 */
export const STORED_HEADERS = {
  cacheControl: { name: "cache-control", maxLength: 1024 },
  contentDisposition: { name: "content-disposition", maxLength: 2048 },
  contentEncoding: { name: "content-encoding", maxLength: 256 },
  contentLanguage: { name: "content-language", maxLength: 256 },
  expires: { name: "expires", maxLength: 29 },
} as const satisfies Record<keyof StoredHeaders, { name: string; maxLength: number }>;

const STORED_FIELDS = Object.keys(STORED_HEADERS) as (keyof StoredHeaders)[];

const PRINTABLE = /^[\x20-\x7e]+$/;
const TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
const CODINGS = new RegExp(`^${TOKEN}(?:[ ]*,[ ]*${TOKEN})*$`);
const LANGUAGE_TAG = "[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*";
const LANGUAGES = new RegExp(`^${LANGUAGE_TAG}(?:[ ]*,[ ]*${LANGUAGE_TAG})*$`);

/**
 * True for an IMF-fixdate exactly as `Date#toUTCString` writes it (weekday matching the date):
 * the one form S3 clients send and every backend keeps byte for byte.
 */
export function isImfFixdate(text: string): boolean {
  return parseHttpDate(text)?.toUTCString() === text;
}

/** A stored header's value: printable ASCII (no control characters), 1 to `maxLength` long. */
function storedValue(field: keyof StoredHeaders) {
  const { maxLength } = STORED_HEADERS[field];
  return z.string()
    .min(1, "Expected a value; leave the header out to store none")
    .max(maxLength, `At most ${maxLength} characters`)
    .regex(PRINTABLE, "Printable ASCII only: no control characters or non-ASCII text");
}

const PutHeaders = z.object({
  "content-type": z.string().max(256).regex(/^[\x20-\x7e]+$/, "Expected a media type").optional(),
  "content-md5": z.string().regex(
    /^[A-Za-z0-9+/]{22}==$/,
    "Expected the base64 MD5 digest of the body (24 characters)",
  ).optional(),
  "x-checksum-sha256": z.string().regex(
    /^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/,
    "Expected the SHA-256 digest of the body, as 64 hex digits or 44 base64 characters",
  ).optional(),
  "cache-control": storedValue("cacheControl").optional(),
  "content-disposition": storedValue("contentDisposition").optional(),
  "content-encoding": storedValue("contentEncoding")
    .regex(CODINGS, "Expected content codings such as gzip or br, separated by commas")
    .refine((value) => !/(?:^|[ ,])aws-chunked(?:$|[ ,])/i.test(value), {
      message: "aws-chunked is a transfer framing of S3 uploads, not a stored content coding",
    })
    .optional(),
  "content-language": storedValue("contentLanguage")
    .regex(LANGUAGES, "Expected language tags such as en or de-CH, separated by commas")
    .optional(),
  "expires": storedValue("expires")
    .refine(isImfFixdate, 'Expected an HTTP date such as "Wed, 21 Oct 2026 07:28:00 GMT"')
    .optional(),
});

/** What a write's headers ask for. */
export interface PutHeaders {
  contentType: string;
  metadata: Record<string, string>;
  /** The standard headers to store (only those the request set). */
  headers: StoredHeaders;
  checksums: ExpectedChecksum[];
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.fromBase64(text);
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!, (pair) => parseInt(pair, 16));
}

/** A zod schema for `X-Meta-*` headers: names, printable ASCII values, a total size. */
function metadataSchema(maxSize: number) {
  return z.record(
    z.string().regex(
      /^x-meta-[a-z0-9][a-z0-9_-]{0,127}$/,
      "Metadata names are letters, digits, - and _ (at most 128)",
    ),
    z.string().max(1024).regex(/^[\x20-\x7e]*$/, "Metadata values are printable ASCII"),
  ).superRefine((record, ctx) => {
    let total = 0;
    for (const [name, value] of Object.entries(record)) {
      total += name.length - META_PREFIX.length + value.length;
      if (total > maxSize) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `Metadata is at most ${maxSize} bytes of names and values in all`,
        });
        return;
      }
    }
  });
}

/** Reads and validates a write's headers; throws 400 problems naming the header. */
export function readPutHeaders(headers: Headers, options: { maxMetadataSize: number }): PutHeaders {
  const parsed = PutHeaders.safeParse(Object.fromEntries(headers));
  if (!parsed.success) throw validationError("header", parsed.error);
  const meta: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (name.startsWith(META_PREFIX)) meta[name] = value;
  }
  const metaResult = metadataSchema(options.maxMetadataSize).safeParse(meta);
  if (!metaResult.success) {
    const issue = metaResult.error.issues[0]!;
    const field = `header.${String(issue.path[0] ?? "x-meta-*")}`;
    throw storageError("storage.metadata_invalid", {
      detail: `${field}: ${issue.message}`,
      field,
    });
  }
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(metaResult.data)) {
    metadata[name.slice(META_PREFIX.length)] = value;
  }
  const { data } = parsed;
  const checksums: ExpectedChecksum[] = [];
  if (data["content-md5"]) {
    checksums.push({
      algorithm: "md5",
      digest: fromBase64(data["content-md5"]),
      field: "header.content-md5",
    });
  }
  const sha256 = data["x-checksum-sha256"];
  if (sha256) {
    checksums.push({
      algorithm: "sha256",
      digest: sha256.length === 64 ? fromHex(sha256) : fromBase64(sha256),
      field: "header.x-checksum-sha256",
    });
  }
  const stored: StoredHeaders = {};
  for (const field of STORED_FIELDS) {
    const value = data[STORED_HEADERS[field].name];
    if (value !== undefined) stored[field] = value;
  }
  return {
    contentType: data["content-type"] ?? "application/octet-stream",
    metadata,
    headers: stored,
    checksums,
  };
}

/**
 * The stored headers among `values` (a backend's answer, which other clients may have written):
 * only strings, and only those an HTTP header can carry.
 */
export function storedHeadersOf(
  values: Partial<Record<keyof StoredHeaders, unknown>> | undefined,
): StoredHeaders {
  const stored: StoredHeaders = {};
  for (const field of STORED_FIELDS) {
    const value = values?.[field];
    if (typeof value === "string" && value !== "") stored[field] = value;
  }
  return stored;
}

function setStoredHeaders(headers: Headers, stored: StoredHeaders, fields = STORED_FIELDS): void {
  for (const field of fields) {
    const value = stored[field];
    // Objects written by other S3 clients may carry values no HTTP header can hold.
    if (value !== undefined && HEADER_VALUE.test(value)) {
      headers.set(STORED_HEADERS[field].name, value);
    }
  }
}

/** The headers of a read: content, validators, metadata, and the range when partial. */
export function objectHeaders(info: ObjectInfo, range?: ByteRange): Headers {
  const headers = new Headers({
    "content-type": info.contentType,
    "content-length": String(range ? range.end - range.start + 1 : info.size),
    "etag": info.etag,
    "last-modified": info.lastModified.toUTCString(),
    "accept-ranges": "bytes",
  });
  if (range) headers.set("content-range", `bytes ${range.start}-${range.end}/${info.size}`);
  setStoredHeaders(headers, info.headers);
  for (const [name, value] of Object.entries(info.metadata)) {
    // Objects written by other S3 clients may carry metadata no HTTP header can hold.
    if (HEADER_NAME.test(name) && HEADER_VALUE.test(value)) {
      headers.set(`${META_PREFIX}${name}`, value);
    }
  }
  return headers;
}

/**
 * The headers of a 304: the validators, and the stored `Cache-Control` and `Expires` (RFC 9110
 * section 15.4.5: those a 200 would have carried).
 */
export function notModifiedHeaders(
  etag: string,
  lastModified: Date,
  stored: StoredHeaders = {},
): Headers {
  const headers = new Headers({ "etag": etag, "last-modified": lastModified.toUTCString() });
  setStoredHeaders(headers, stored, ["cacheControl", "expires"]);
  return headers;
}
