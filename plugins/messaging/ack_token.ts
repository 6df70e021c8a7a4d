/**
 * Ack tokens: what a backend needs to find a delivery again (NATS's `$JS.ACK...` reply subject,
 * or the memory broker's stream, consumer and sequence), sealed with AES-256-GCM. Clients can
 * hand a token back but cannot read it (no stream or subject names leak), forge one, or alter
 * one to point an ack at an arbitrary subject. Tokens are bound to the plugin instance; with a
 * shared `ackSecret`, every edgebox replica accepts the tokens the others issued.
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Seals and opens ack tokens for one plugin instance. */
export class AckTokens {
  readonly #key: Buffer;
  readonly #scope: Buffer;

  /**
   * `secret` shared by replicas (random per process when omitted: tokens then die with the
   * process, and the backend redelivers what was not acked); `scope` is the instance name.
   */
  constructor(scope: string, secret?: string) {
    this.#scope = Buffer.from(scope, "utf8");
    this.#key = secret === undefined
      ? randomBytes(32)
      : createHash("sha256").update(`edgebox ack token\n${secret}`).digest();
  }

  /** A token carrying `payload`. */
  seal(payload: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(this.#scope);
    const sealed = Buffer.concat([
      iv,
      cipher.update(payload, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `${VERSION}.${sealed.toString("base64url")}`;
  }

  /** The payload of a token this instance sealed, or `undefined` for anything else. */
  open(token: string): string | undefined {
    if (!token.startsWith(`${VERSION}.`)) return undefined;
    const sealed = Buffer.from(token.slice(VERSION.length + 1), "base64url");
    if (sealed.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(this.#scope);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(), // throws when the tag does not match: altered, forged or foreign
      ]);
      return decoder.decode(plain);
    } catch {
      return undefined;
    }
  }
}
