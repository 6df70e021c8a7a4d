/**
 * Neo4j driver errors in the graph plugin's error table: an unreachable server, an exhausted
 * pool or a transient failure that outlived its retries is a 503 with `Retry-After`; a
 * transaction past its timeout is a 504; anything else is a 502 that keeps the original as cause.
 */
import { EdgeboxError } from "../../core/errors.ts";
import { graphError } from "./errors.ts";

/** Where a statement error comes from: our own queries (a bug) or a caller's Cypher (their fault). */
export type StatementSource = "internal" | "caller";

/** Wraps a driver error; `action` says what was attempted (`upsert node Feature:a`). */
export function fromNeo4jError(
  error: unknown,
  action: string,
  source: StatementSource = "internal",
): EdgeboxError {
  if (error instanceof EdgeboxError) return error;
  const code = typeof (error as { code?: unknown })?.code === "string"
    ? (error as { code: string }).code
    : "";
  const message = error instanceof Error ? error.message : String(error);
  const detail = `Cannot ${action} in neo4j: ${firstLine(message)}`;
  if (
    code === "ServiceUnavailable" || code === "SessionExpired" ||
    code.startsWith("Neo.TransientError.") && !code.includes("TransactionTimedOut") ||
    code === "Neo.ClientError.Security.Unauthorized" ||
    code === "Neo.ClientError.Security.AuthenticationRateLimit" ||
    code === "Neo.ClientError.Database.DatabaseNotFound" ||
    message.startsWith("Connection acquisition timed out") ||
    message.includes("Pool is closed") || message.includes("driver has already been closed")
  ) {
    return graphError.unavailable(detail, error);
  }
  if (code.includes("TransactionTimedOut")) {
    return graphError("graph.query_timeout", { detail, cause: error });
  }
  if (source === "caller") {
    if (code === "Neo.ClientError.Statement.AccessMode") {
      return graphError("graph.cypher_write_rejected", {
        detail: `The query writes; only read queries run here: ${firstLine(message)}`,
        field: "query",
        cause: error,
      });
    }
    if (code.startsWith("Neo.ClientError.")) {
      return graphError("graph.cypher_invalid", {
        detail: firstLine(message),
        field: "query",
        cause: error,
      });
    }
  }
  if (code === "Neo.ClientError.Schema.ConstraintValidationFailed") {
    return graphError("graph.conflict", { detail, cause: error });
  }
  return graphError("graph.backend_error", { detail, cause: error });
}

function firstLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}
