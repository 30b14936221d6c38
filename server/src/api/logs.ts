// Logs: the three `logs` fields, one line by id, severities and the histogram. Lines are read
// from the per-day files by LogSearch (store/logs.ts); a line's id and cursor are its position.

import { GraphQLError } from "graphql";
import { SEVERITIES, Severity } from "../../../protocol/executions";
import type { ExecutionRecord } from "../store/executions";
import type { LineOwner, LogFilter, LogPosition, StoredLog } from "../store/logs";
import { PageArgs, build, count } from "./connection";
import { ApiContext, ApiResolvers, LOG_SEARCH_ITEMS, charge, iso, orderOf, time } from "./context";
import { flowConfigOf, flowNode, currentIntegration } from "./directory";

/** Every filter the contract gives `logs`. */
interface LogArgs extends PageArgs {
  customer?: string | null;
  instance_Customer?: string | null;
  executionResult?: string | null;
  flow?: string | null;
  flowConfig?: string | null;
  flowConfig_Flow?: string | null;
  instance?: string | null;
  integration?: string | null;
  isTestExecution?: boolean | null;
  logType?: string | null;
  logType_In?: Array<string | null> | null;
  message_Icontains?: string | null;
  severity?: number | null;
  severity_In?: Array<Severity | null> | null;
  timestamp_Gte?: string | null;
  timestamp_Lte?: string | null;
  orderBy?: any;
  sortBy?: any;
}

const encodePosition = (p: LogPosition) => Buffer.from(`Log:${p.day}:${p.offset}`).toString("base64");

const notOurs = (value: string, name: string) => new GraphQLError(`${name}: "${value}" is not a log cursor or id of this server`);

/** The position a log id (or cursor) names; null when it is not one. */
function positionOf(value: string): LogPosition | null {
  const match = /^Log:(\d{4}-\d{2}-\d{2}):(\d+)$/.exec(Buffer.from(value, "base64").toString("utf8"));
  return match && { day: match[1], offset: Number(match[2]) };
}

function decodePosition(value: string, name: string): LogPosition {
  const p = positionOf(value);
  if (!p) throw notOurs(value, name);
  return p;
}

/** The line that starts at a position, if one does. */
async function lineAt(ctx: ApiContext, p: LogPosition): Promise<StoredLog | undefined> {
  const [line] = await ctx.runtime.logs.find({}, { descending: false, after: { day: p.day, offset: p.offset - 1 }, limit: 1 });
  return line && line.day === p.day && line.offset === p.offset ? line : undefined;
}

/** A cursor names a line this server stored (a made-up position would page from a guess). */
async function cursor(ctx: ApiContext, value: string, name: string): Promise<LogPosition> {
  const p = decodePosition(value, name);
  if (!(await lineAt(ctx, p))) throw notOurs(value, name);
  return p;
}

/** Lifecycle hooks' lines name their instance and flow instead of an execution. */
const logType = (line: LineOwner) => (line.executionId ? "EXECUTION" : "MANAGEMENT");

/** The LogFilter for the arguments (and `within`, which a parent object fixes); null when nothing can match. */
function logFilter(ctx: ApiContext, args: LogArgs, within: LogArgs): LogFilter | null {
  const a = { ...args };
  for (const [key, value] of Object.entries(within) as Array<[keyof LogArgs, any]>) {
    if (a[key] != null && a[key] !== value) return null; // asks for another instance (or execution) than its parent
    a[key] = value;
  }
  let execution: ExecutionRecord | undefined;
  if (a.executionResult != null) {
    execution = ctx.runtime.store.executions.get(a.executionResult);
    if (!execution) return null;
  }
  // An empty list filters nothing, as django-filter's `__in` with no values (so page, count and histogram agree).
  const given = <T>(list: Array<T | null> | null | undefined) => (list?.some((v) => v != null) ? list.filter((v): v is T => v != null) : undefined);
  let severities = given(a.severity_In);
  if (a.severity != null) {
    const level = SEVERITIES[a.severity - 1];
    if (!level || !Number.isInteger(a.severity)) throw new GraphQLError(`severity: ${a.severity} is not a severity id (logSeverityLevels lists them: 1 to ${SEVERITIES.length})`);
    severities = severities ? severities.filter((s) => s === level) : [level];
    if (!severities.length) return null;
  }
  const customer = a.customer ?? a.instance_Customer;
  const flow = a.flow ?? a.flowConfig_Flow;
  const types = a.logType != null ? [a.logType] : given(a.logType_In);
  const instances = ctx.runtime.instances;
  const scoped = customer != null || flow != null || a.flowConfig != null || a.instance != null || a.integration != null || a.isTestExecution != null || types;
  return {
    execution,
    severities,
    text: searchTerm(a.message_Icontains),
    from: time(a.timestamp_Gte, "timestamp_Gte"),
    to: time(a.timestamp_Lte, "timestamp_Lte"),
    scope: scoped
      ? (line, x) => {
          const instanceId = x?.scope.instanceId ?? line.instanceId;
          const flowId = x?.scope.flowId ?? line.flowId;
          const instance = instanceId ? instances.instance(instanceId) : undefined;
          if (a.instance != null && instanceId !== a.instance) return false;
          if (flow != null && flowId !== flow) return false;
          if (customer != null && (x?.scope.customerId ?? instance?.customerId) !== customer) return false;
          if (a.integration != null && (x?.scope.integrationId ?? instance?.integrationId) !== a.integration) return false;
          if (a.isTestExecution != null && (x?.scope.isTestExecution ?? instance?.isSystem) !== a.isTestExecution) return false;
          if (a.flowConfig != null && (x?.scope.flowConfigId ?? (instanceId && flowId && instances.flowConfigOf(instanceId, flowId)?.id)) !== a.flowConfig) return false;
          if (types && !types.includes(logType(line))) return false;
          return true;
        }
      : undefined,
  };
}

/** Longer terms are refused: a search box never sends one, and the matcher's pattern has a size limit. */
const MAX_SEARCH_TERM = 1000;

function searchTerm(term: string | null | undefined): string | undefined {
  if (term != null && term.length > MAX_SEARCH_TERM) throw new GraphQLError(`message_Icontains: the search term is ${term.length} characters long; at most ${MAX_SEARCH_TERM} are searched for`);
  return term ?? undefined;
}

/**
 * A page of log lines, newest first unless ordered by TIMESTAMP ASC (the order tailing clients
 * use: a cursor then only ever has new lines after it). Order within a day is the order lines
 * were written, which is their time order up to a few milliseconds between executions.
 */
export async function logConnection(ctx: ApiContext, args: LogArgs, within: LogArgs = {}) {
  charge(ctx, LOG_SEARCH_ITEMS);
  const { descending } = orderOf(args, { field: "TIMESTAMP", direction: "DESC" }, (field) => {
    if (field !== "TIMESTAMP") throw new GraphQLError(`Logs are ordered by TIMESTAMP only, not ${field}`);
    return () => 0;
  });
  const filter = logFilter(ctx, args, within);
  const after = args.after ? await cursor(ctx, args.after, "after") : undefined;
  const before = args.before ? await cursor(ctx, args.before, "before") : undefined;
  if (!filter) return build([], encodePosition, false, false, 0);
  const search = ctx.runtime.logs;
  // `last` alone pages backwards from `before` (or the end): scan the other way, then turn the
  // page round. With `first` it keeps the end of that page, as every connection does (windowOf).
  const backwards = args.last != null && args.first == null;
  const skip = count(args.offset, "offset") ?? 0;
  if (backwards && skip) throw new GraphQLError("offset counts from the start, and last alone pages from the end: give offset with first, or page back with before and last");
  const want = (backwards ? count(args.last, "last") : count(args.first, "first")) ?? 100;
  const keep = backwards ? null : count(args.last, "last");
  const lines = await search.find(filter, {
    descending: backwards ? !descending : descending,
    after: backwards ? before : after,
    before: backwards ? after : before,
    limit: skip + want + 1,
  });
  const from = skip;
  const more = lines.length > from + want;
  let page = lines.slice(from, from + want);
  if (backwards) page.reverse();
  const trimmed = keep !== null && page.length > keep;
  if (trimmed) page = page.slice(page.length - keep);
  return build(
    page,
    encodePosition,
    backwards ? more : !!after || from > 0 || trimmed,
    backwards ? !!before : more,
    () => search.count(filter),
  );
}

async function histogram(ctx: ApiContext, args: LogArgs & { buckets: number }) {
  if (!Number.isInteger(args.buckets) || args.buckets < 1 || args.buckets > 1000) throw new GraphQLError("buckets must be between 1 and 1000");
  charge(ctx, LOG_SEARCH_ITEMS);
  const filter = logFilter(ctx, args, {});
  const to = filter?.to ?? Date.now();
  // Without a start, the range starts at the execution's start, else at the oldest stored line.
  const from = filter?.from ?? (filter?.execution ? filter.execution.startedAt : ((await ctx.runtime.logs.oldest()) ?? to));
  if (from > to) throw new GraphQLError("timestamp_Gte is after timestamp_Lte");
  const width = Math.max(1, Math.ceil((to - from + 1) / args.buckets));
  // A range of fewer milliseconds than buckets asked for (or one that does not divide evenly)
  // gets fewer buckets: none starts after the range ends.
  const buckets = Math.ceil((to - from + 1) / width);
  const counts = filter ? await ctx.runtime.logs.histogram({ ...filter, from, to }, { from, width, count: buckets }) : null;
  return Array.from({ length: buckets }, (_, i) => ({
    start: iso(from + i * width),
    end: iso(Math.min(to, from + (i + 1) * width - 1)),
    counts: SEVERITIES.flatMap((severity, s) => {
      const count = counts?.[i * SEVERITIES.length + s];
      return count ? [{ severity, count }] : [];
    }),
  }));
}

export const logResolvers: ApiResolvers = {
  RootQuery: {
    logs: (_: unknown, args: LogArgs, ctx: ApiContext) => logConnection(ctx, args),
    // An id that is not a log's is no log, as every lookup by id answers (a cursor's is an error).
    log: async (_: unknown, { id }: { id: string }, ctx: ApiContext) => {
      const p = positionOf(id);
      return (p && (await lineAt(ctx, p))) ?? null;
    },
    logSeverityLevels: () => SEVERITIES.map((name, i) => ({ id: i + 1, name })),
    logHistogram: (_: unknown, args: LogArgs & { buckets: number }, ctx: ApiContext) => histogram(ctx, args),
  },
  Log: {
    id: (l: StoredLog) => encodePosition(l),
    timestamp: (l: StoredLog) => iso(l.record.at),
    severity: (l: StoredLog) => l.record.severity,
    message: (l: StoredLog) => l.record.message,
    stepName: (l: StoredLog) => l.record.stepName,
    logType: (l: StoredLog) => logType(l.record),
    // Code-native executions have no sections or preprocess flows.
    sectionId: () => null,
    fromPreprocessFlow: () => false,
    executionResultId: (l: StoredLog) => l.record.executionId,
    executionResult: (l: StoredLog, _: unknown, ctx: ApiContext) => (l.record.executionId && ctx.runtime.store.executions.get(l.record.executionId)) || null,
    isTestExecution: (l: StoredLog, _: unknown, ctx: ApiContext) => scopeOf(ctx, l).isTestExecution,
    instanceId: (l: StoredLog, _: unknown, ctx: ApiContext) => scopeOf(ctx, l).instanceId,
    instance: (l: StoredLog, _: unknown, ctx: ApiContext) => ctx.runtime.instances.instance(scopeOf(ctx, l).instanceId ?? "") ?? null,
    instanceName: (l: StoredLog, _: unknown, ctx: ApiContext) => ctx.runtime.instances.instance(scopeOf(ctx, l).instanceId ?? "")?.name ?? null,
    customer: (l: StoredLog, _: unknown, ctx: ApiContext) => ctx.runtime.instances.customer(scopeOf(ctx, l).customerId ?? "") ?? null,
    customerName: (l: StoredLog, _: unknown, ctx: ApiContext) => ctx.runtime.instances.customer(scopeOf(ctx, l).customerId ?? "")?.name ?? null,
    flow: (l: StoredLog, _: unknown, ctx: ApiContext) => flowNode(ctx, scopeOf(ctx, l).flowId ?? ""),
    flowName: (l: StoredLog, _: unknown, ctx: ApiContext) => flowNode(ctx, scopeOf(ctx, l).flowId ?? "")?.def.name ?? null,
    flowConfig: (l: StoredLog, _: unknown, ctx: ApiContext) => flowConfigOf(ctx, scopeOf(ctx, l).flowConfigId),
    integration: (l: StoredLog, _: unknown, ctx: ApiContext) => currentIntegration(ctx, scopeOf(ctx, l).integrationId ?? ""),
    integrationName: (l: StoredLog, _: unknown, ctx: ApiContext) => currentIntegration(ctx, scopeOf(ctx, l).integrationId ?? "")?.meta.name ?? null,
  },
  LogSeverity: {
    id: (s: { id: number }) => s.id,
    name: (s: { name: string }) => s.name,
  },
  LogHistogramBucket: {
    start: (b: any) => b.start,
    end: (b: any) => b.end,
    counts: (b: any) => b.counts,
  },
  LogSeverityCount: {
    severity: (c: any) => c.severity,
    count: (c: any) => c.count,
  },
};

/** What a line belongs to: its execution's scope, or for a hook's line its instance and flow. */
function scopeOf(ctx: ApiContext, l: StoredLog) {
  const x = l.record.executionId ? ctx.runtime.store.executions.get(l.record.executionId) : undefined;
  if (x) return { ...x.scope };
  const instance = l.record.instanceId ? ctx.runtime.instances.instance(l.record.instanceId) : undefined;
  const flowId = l.record.flowId;
  return {
    instanceId: l.record.instanceId ?? null,
    flowId: flowId ?? null,
    customerId: instance?.customerId ?? null,
    integrationId: instance?.integrationId ?? null,
    isTestExecution: instance?.isSystem ?? null,
    flowConfigId: instance && flowId ? (ctx.runtime.instances.flowConfigOf(instance.id, flowId)?.id ?? null) : null,
  };
}
