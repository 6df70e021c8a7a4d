/**
 * Config of the graph plugin: Neo4j, the embedded SQLite graph or the in-memory one, with the
 * same limits, and what each block turns into (driver options, route limits), so the declaration
 * only wires them.
 */
import { z } from "zod";
import type { Logger } from "../../core/log.ts";
import { DurabilityConfig } from "../../core/sqlite.ts";
import { duration, size } from "../../core/units.ts";
import type { GraphLimits } from "./driver.ts";
import { IDENTIFIER } from "./identifiers.ts";
import type { MemoryGraphOptions } from "./memory.ts";
import type { Neo4jGraphOptions } from "./neo4j.ts";
import type { GraphRoutesOptions } from "./routes.ts";
import type { SqliteGraphOptions } from "./sqlite.ts";

/** Longest Cypher query text `POST /cypher` accepts. */
const MAX_QUERY_LENGTH = 65_536;

const Identifier = z.string().regex(
  IDENTIFIER,
  "Expected a letter, then up to 63 letters, digits or _",
);

/** Fields every backend shares: allowlists and every limit on what a request may ask for. */
const common = {
  /** Allowed node labels; any label matching the identifier pattern when left out. */
  labels: z.array(Identifier).min(1).max(1_000).optional(),
  /** Allowed relationship types; any type matching the identifier pattern when left out. */
  relationships: z.array(Identifier).min(1).max(1_000).optional(),
  /** Deepest traversal a request may ask for (neighbours, paths, cycle length). */
  maxDepth: z.number().int().min(1).max(50).default(10),
  /** Longest path a `rejectCycle` check searches for a way back. */
  cycleCheckDepth: z.number().int().min(1).max(100_000).default(1_000),
  /** Most nodes a traversal or cycle listing returns (also the Cypher row cap). */
  maxResults: z.number().int().min(1).max(100_000).default(1_000),
  /** Default and largest page of `GET /nodes/{label}`. */
  defaultPageSize: z.number().int().min(1).max(10_000).default(100),
  maxPageSize: z.number().int().min(1).max(10_000).default(1_000),
  /** Most items in one `POST /batch`. */
  maxBatchSize: z.number().int().min(1).max(100_000).default(1_000),
  /** Longest node id, in characters. */
  maxIdLength: z.number().int().min(1).max(1_024).default(256),
  /** Most properties on one node or relationship. */
  maxProperties: z.number().int().min(1).max(1_000).default(100),
  /** Longest string property, in characters. */
  maxStringLength: z.number().int().min(1).max(10_000_000).default(65_536),
  /** Longest array property, in elements. */
  maxArrayLength: z.number().int().min(1).max(1_000_000).default(1_024),
  /** Largest request body; `server.bodyLimit` when left out (raise it for big batches). */
  bodyLimit: size().optional(),
};

/** Neo4j 5 over Bolt. */
export const Neo4jGraphConfig = z.strictObject({
  backend: z.literal("neo4j"),
  url: z.string().regex(
    /^(bolt|neo4j)(\+s|\+ssc)?:\/\/[^\s]+$/,
    "Expected a Bolt URL such as bolt://127.0.0.1:7687 or neo4j+s://host",
  ).default("bolt://127.0.0.1:7687"),
  user: z.string().min(1).default("neo4j"),
  password: z.string().min(1),
  database: z.string().min(1).max(63).default("neo4j"),
  /** `POST /cypher`: read-only queries in a READ session. Off unless turned on. */
  allowCypher: z.boolean().default(false),
  pool: z.strictObject({
    /** Most open connections. */
    size: z.number().int().min(1).max(1_000).default(50),
    /** How long a request waits for a free connection before answering 503. */
    acquisitionTimeout: duration().default(5_000),
  }).default({ size: 50, acquisitionTimeout: 5_000 }),
  /** How long opening one connection may take. */
  connectionTimeout: duration().default(3_000),
  /** Server-side timeout of every transaction (504 past it). */
  queryTimeout: duration().default(10_000),
  /** Budget for retrying transient errors inside a transaction function. */
  maxRetryTime: duration().default(3_000),
  ...common,
});

/** The embedded in-memory graph (nothing persists across restarts). */
export const MemoryGraphConfig = z.strictObject({
  backend: z.literal("memory"),
  /** Most nodes held; writes past it answer 507. */
  maxNodes: z.number().int().min(1).max(100_000_000).default(1_000_000),
  /** Most relationships held; writes past it answer 507. */
  maxEdges: z.number().int().min(1).max(100_000_000).default(5_000_000),
  ...common,
});

/**
 * The embedded durable graph: the in-memory graph, recorded in `<instance>.db` under
 * `server.dataDir` and reloaded from it at start.
 */
export const SqliteGraphConfig = MemoryGraphConfig.extend({
  backend: z.literal("sqlite"),
  durability: DurabilityConfig,
});

/** Validated Neo4j config. */
export type Neo4jGraphConfig = z.output<typeof Neo4jGraphConfig>;
/** Validated memory config. */
export type MemoryGraphConfig = z.output<typeof MemoryGraphConfig>;
/** Validated SQLite config. */
export type SqliteGraphConfig = z.output<typeof SqliteGraphConfig>;
/** Validated graph config: any block (the core builds the union over `backend`). */
export type GraphConfig = Neo4jGraphConfig | MemoryGraphConfig | SqliteGraphConfig;

/** The allowlists and cycle-check bound every driver enforces, from any block. */
function limitsOf(config: GraphConfig): GraphLimits {
  return {
    ...(config.labels ? { labels: config.labels } : {}),
    ...(config.relationships ? { relationships: config.relationships } : {}),
    cycleCheckDepth: config.cycleCheckDepth,
  };
}

/** The options of the in-memory driver (also the working set of the SQLite one). */
export function memoryGraphOptions(
  config: MemoryGraphConfig | SqliteGraphConfig,
): MemoryGraphOptions {
  return { ...limitsOf(config), maxNodes: config.maxNodes, maxEdges: config.maxEdges };
}

/** The options of the SQLite driver; `file` names its database (called at connect). */
export function sqliteGraphOptions(
  config: SqliteGraphConfig,
  file: () => string,
): SqliteGraphOptions {
  return { ...memoryGraphOptions(config), durability: config.durability, file };
}

/** The options of the Neo4j driver; `log` takes the client library's own warnings. */
export function neo4jGraphOptions(config: Neo4jGraphConfig, log: Logger): Neo4jGraphOptions {
  return {
    ...limitsOf(config),
    url: config.url,
    user: config.user,
    password: config.password,
    database: config.database,
    poolSize: config.pool.size,
    acquisitionTimeout: config.pool.acquisitionTimeout,
    connectionTimeout: config.connectionTimeout,
    queryTimeout: config.queryTimeout,
    maxRetryTime: config.maxRetryTime,
    log,
  };
}

/** What the routes let a request ask for; `POST /cypher` runs only on neo4j with `allowCypher`. */
export function graphRoutesOptions(config: GraphConfig): GraphRoutesOptions {
  return {
    ...config,
    allowCypher: config.backend === "neo4j" && config.allowCypher,
    maxQueryLength: MAX_QUERY_LENGTH,
  };
}
