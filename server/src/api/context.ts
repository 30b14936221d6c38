import { GraphQLError } from "graphql";
import type { BlobSigner } from "../http/blobs";
import type { Runtime } from "../runtime/runtime";
import type { Resolvers } from "./schema";

/** What every resolver gets: the runtime, and where the caller reaches this server (for blob URLs). */
export type ApiContext = {
  runtime: Runtime;
  blobs: BlobSigner;
  /** This server as the caller reaches it (http/auth.ts serverOrigin): where blob URLs point. */
  origin: string;
  /** List items given to this request so far, all lists together, log searches included (bounded by MAX_ITEMS). */
  items: number;
};

export type ApiResolvers = Resolvers<ApiContext>;

/** Resolvers that read an object's properties of the same names (payloads, plain shapes). */
export function properties(...names: string[]): ApiResolvers[string] {
  return Object.fromEntries(names.map((n) => [n, (source: any) => source[n]]));
}

/**
 * Each page is at most 1,000 items, but a list asked for inside another list's items runs once per
 * item: `executionResults { nodes { instance { executionResults … } } }` three deep asked for a
 * billion and ran the server out of memory. So a request gets this many items in all, its lists
 * together, and an error past that.
 */
export const MAX_ITEMS = 100_000;

/**
 * What one log search (a `logs` connection or a `logHistogram`) counts for against MAX_ITEMS: it
 * may read every stored line, some on the main thread. Twenty per request; asked for under a
 * list's items (`executionResults { nodes { instance { logs … } } }`), a search ran once per item
 * and a 3 KB request held the server for seconds.
 */
export const LOG_SEARCH_ITEMS = 5_000;

export function charge(ctx: ApiContext, items: number): void {
  ctx.items += items;
  if (ctx.items > MAX_ITEMS) throw new GraphQLError(`The request asks for more than ${MAX_ITEMS} list items in all (a list inside a list's items runs once per item; a log search counts as ${LOG_SEARCH_ITEMS}); ask for fewer, or page`);
}

/** A DateTime argument as ms since epoch; undefined when absent. */
export function time(value: unknown, name: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  const ms = isoTime(value);
  if (Number.isNaN(ms)) throw new GraphQLError(`${name}: ${JSON.stringify(value)} is not ${ISO_EXPECTED}`);
  return ms;
}

/** What `isoTime` takes, for error messages. */
export const ISO_EXPECTED = "an ISO-8601 date, or date-time with an offset (Z or ±hh:mm)";

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

/**
 * An ISO-8601 date (midnight UTC) or date-time with its offset (RFC 3339's space instead of T
 * allowed) as ms since epoch, NaN for anything else. `Date.parse` alone also takes "March 7", rolls
 * "2026-02-30" over into March, and reads a date-time without an offset in the server's time
 * zone: each would filter by a time nobody asked for.
 */
export function isoTime(value: unknown): number {
  const m = typeof value === "string" ? ISO_8601.exec(value) : null;
  if (!m) return NaN;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return NaN;
  return Date.parse(value as string);
}

export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/**
 * The order a connection's `orderBy` (one) or `sortBy` (a list) asks for, as a primary sort value
 * for `connection()`: several fields become one string key. Values come from `valueOf`, which
 * throws for fields it cannot sort by.
 */
export function orderOf<T>(
  args: { orderBy?: Ordering | null; sortBy?: Array<Ordering | null> | null },
  fallback: Ordering,
  valueOf: (field: string) => (t: T) => number | string,
): { primary: (t: T) => number | string; descending: boolean } {
  const sortBy = (args.sortBy ?? []).filter((o): o is Ordering => !!o);
  const orderings = args.orderBy ? [args.orderBy] : sortBy.length ? sortBy : [fallback];
  const descending = orderings[0].direction === "DESC";
  if (orderings.some((o) => (o.direction === "DESC") !== descending)) throw new GraphQLError("sortBy: every ordering must have the same direction");
  const values = orderings.map((o) => valueOf(o.field));
  if (values.length === 1) return { primary: values[0], descending };
  const part = (v: number | string) => (typeof v === "number" ? v.toFixed(0).padStart(20, "0") : v);
  return { primary: (t) => values.map((v) => part(v(t))).join("\u0000"), descending };
}

export interface Ordering {
  field: string;
  direction: "ASC" | "DESC";
}
