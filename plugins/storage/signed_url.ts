/**
 * Presigned URLs that edgebox itself serves (the filesystem backend): an HMAC-SHA256 over the
 * instance, method, expiry and key, so a URL works for exactly one method on one key until it
 * expires, and a change to any of them breaks the signature.
 */
import type { EdgeboxError } from "../../core/errors.ts";
import type { SignedRequest } from "./driver.ts";
import { storageError } from "./errors.ts";

const encoder = new TextEncoder();
const EXPIRES = /^\d{1,12}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
/** Signatures travel in a query string: unpadded base64url (RFC 4648 section 5). */
const BASE64URL = { alphabet: "base64url", omitPadding: true } as const;

/** Options of {@linkcode UrlSigner}. */
export interface UrlSignerOptions {
  /** The signing key's bytes. */
  secret: Uint8Array<ArrayBuffer>;
  /** What URLs are valid for (the instance name): a URL for one instance fails on another. */
  scope: string;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
}

/** Signs and verifies edgebox presigned URLs. */
export class UrlSigner {
  readonly #key: Promise<CryptoKey>;
  readonly #scope: string;
  readonly #now: () => number;

  constructor(options: UrlSignerOptions) {
    this.#key = crypto.subtle.importKey(
      "raw",
      options.secret,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    this.#scope = options.scope;
    this.#now = options.now ?? Date.now;
  }

  #payload(key: string, method: string, expires: string): Uint8Array<ArrayBuffer> {
    return encoder.encode(`edgebox-presign-v1\n${this.#scope}\n${method}\n${expires}\n${key}`);
  }

  /** A URL of `routeUrl` that allows `method` on `key` for `expiresIn` seconds. */
  async sign(
    key: string,
    options: { method: "GET" | "PUT"; expiresIn: number; routeUrl: string },
  ): Promise<{ url: string; expiresAt: Date }> {
    const expires = String(Math.floor(this.#now() / 1000) + options.expiresIn);
    const signature = new Uint8Array(
      await crypto.subtle.sign(
        "HMAC",
        await this.#key,
        this.#payload(key, options.method, expires),
      ),
    );
    const query = new URLSearchParams({ key, expires, signature: signature.toBase64(BASE64URL) });
    return {
      url: `${options.routeUrl}?${query}`,
      expiresAt: new Date(Number(expires) * 1000),
    };
  }

  /** Throws `storage.signature_invalid` or `storage.signature_expired` unless `request` is good. */
  async verify(request: SignedRequest): Promise<void> {
    const invalid = (detail: string): EdgeboxError =>
      storageError("storage.signature_invalid", { detail, field: "query.signature" });
    if (!EXPIRES.test(request.expires)) throw invalid("The URL's expiry is malformed");
    if (!SIGNATURE.test(request.signature)) throw invalid("The URL's signature is malformed");
    const good = await crypto.subtle.verify(
      "HMAC",
      await this.#key,
      Uint8Array.fromBase64(request.signature, { alphabet: "base64url" }),
      this.#payload(request.key, request.method, request.expires),
    );
    if (!good) {
      throw invalid(`The signature does not allow ${request.method} on this key`);
    }
    if (Number(request.expires) * 1000 <= this.#now()) {
      throw storageError("storage.signature_expired", {
        detail: `The URL expired at ${new Date(Number(request.expires) * 1000).toISOString()}`,
        field: "query.expires",
      });
    }
  }
}
