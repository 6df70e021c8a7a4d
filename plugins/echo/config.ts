/** Config of the echo plugin: the example plugin that exercises every lifecycle hook. */
import { z } from "zod";
import { duration } from "../../core/units.ts";

/** The only backend, in process. */
export const MemoryEchoConfig = z.strictObject({
  backend: z.literal("memory"),
  /** Returned by `GET /v1/<instance>`. */
  greeting: z.string().max(200).default("hello from edgebox"),
  /** Simulated time the backend takes to connect at start. */
  connectDelay: duration().default(0),
  /** Upper bound of `GET /delay?ms=`. */
  maxDelay: duration().default(30_000),
  /** Upper bound of a message's length, in characters. */
  maxMessageLength: z.number().int().min(1).max(1_000_000).default(4_096),
});

/** Validated echo config. */
export type EchoConfig = z.output<typeof MemoryEchoConfig>;
