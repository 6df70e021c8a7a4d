/**
 * The four prom-client classes edgebox uses, each imported from its own module. prom-client's
 * index also loads its default metrics collectors (and, through them, `@opentelemetry/api`),
 * its Pushgateway and its cluster aggregator: about 30 ms of start-up for code edgebox never
 * runs (its process metrics are its own, `process_metrics.ts`). prom-client declares types for
 * its index only, so each class takes the type the index gives it.
 */
import type * as PromClient from "prom-client";
// @ts-ignore: no declaration file of its own (see the module doc)
import registry from "prom-client/lib/registry.js";
// @ts-ignore: no declaration file of its own
import counter from "prom-client/lib/counter.js";
// @ts-ignore: no declaration file of its own
import gauge from "prom-client/lib/gauge.js";
// @ts-ignore: no declaration file of its own
import histogram from "prom-client/lib/histogram.js";

export const Registry: typeof PromClient.Registry = registry;
export type Registry = PromClient.Registry;
export const Counter: typeof PromClient.Counter = counter;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export const Gauge: typeof PromClient.Gauge = gauge;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export const Histogram: typeof PromClient.Histogram = histogram;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
