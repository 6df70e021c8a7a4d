/** Config of the audit plugin's one backend, `memory` (a demo: the trail is lost on restart). */
import { z } from "zod";
import { size } from "../../mod.ts";
import { keyProblem } from "./keys.ts";

/**
 * The in-memory audit trail: records in a bounded ring, values in whichever cache instance
 * provides the key-value capability.
 */
export const MemoryAuditConfig = z.strictObject({
  backend: z.literal("memory"),
  /** Most audit records kept; past it the oldest is dropped. */
  maxRecords: z.number().int().min(1).max(10_000_000).default(10_000),
  /**
   * Prefixed to every key in the key-value store, so the values are found at
   * `/v1/<cache>/keys/<keyPrefix><key>`. Default: `<instance>:` (`audit:greeting`).
   */
  keyPrefix: z.string().refine((prefix) => keyProblem(prefix, 128, 0) === undefined, {
    message: "Expected at most 128 bytes of UTF-8 without control characters",
  }).optional(),
  /**
   * Longest key, in bytes of UTF-8. The prefix plus the key must fit the cache's own
   * `maxKeyBytes` (512 by default).
   */
  maxKeyBytes: z.number().int().min(1).max(4_096).default(256),
  /** Largest value a `PUT` takes (its request body limit); 413 above it. */
  maxValueSize: size().pipe(z.number().int().min(1).max(512 * 2 ** 20)).default(2 ** 20),
  /** Page size of `GET /log` when the request names none. */
  defaultPageSize: z.number().int().min(1).max(10_000).default(100),
  /** Largest page `GET /log?limit=` may ask for. */
  maxPageSize: z.number().int().min(1).max(10_000).default(1_000),
}).refine((config) => config.defaultPageSize <= config.maxPageSize, {
  message: "defaultPageSize must not exceed maxPageSize",
  path: ["defaultPageSize"],
});

/** Validated audit config. */
export type AuditConfig = z.output<typeof MemoryAuditConfig>;
