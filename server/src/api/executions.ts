// Executions and their step results: filters, lineage (replays, retries, cross-flow calls) and the
// signed blob URLs clients fetch step results and requests from (prismatic-api/clients.md §3).

import { GraphQLError } from "graphql";
import { STEP_DISPLAY_NAMES } from "../../../protocol/executions";
import type { ExecutionRecord, StepRecord } from "../store/executions";
import { PageArgs, connection, MAX_PAGE } from "./connection";
import { ApiContext, ApiResolvers, iso, orderOf, time } from "./context";
import { currentIntegration, flowConfigOf, flowNode } from "./directory";
import { logConnection } from "./logs";

/** A step result: the step and the execution it belongs to. */
export interface StepNode {
  x: ExecutionRecord;
  step: StepRecord;
}

/** Every filter the contract gives `executionResults` (and the nested lists of executions). */
export interface ExecutionArgs extends PageArgs {
  endedAt_Gte?: string | null;
  endedAt_Isnull?: boolean | null;
  endedAt_Lte?: string | null;
  error_Isnull?: boolean | null;
  flow?: string | null;
  flowConfig?: string | null;
  flowConfig_Flow?: string | null;
  id?: string | null;
  id_In?: Array<string | null> | null;
  instance?: string | null;
  instance_Customer?: string | null;
  instance_Integration?: string | null;
  instance_IsSystem?: boolean | null;
  integration?: string | null;
  invokeType_In?: Array<string | null> | null;
  isTestExecution?: boolean | null;
  replayForExecution_Isnull?: boolean | null;
  resultType?: string | null;
  resultType_In?: Array<string | null> | null;
  startedAt_Gte?: string | null;
  startedAt_Lte?: string | null;
  status?: string | null;
  orderBy?: any;
  sortBy?: any;
}

/** Executions matching the arguments (and `within`, which a parent object fixes), newest first unless ordered otherwise. */
export function executionResults(ctx: ApiContext, args: ExecutionArgs, within: ExecutionArgs = {}, candidates?: ExecutionRecord[]) {
  const matches = executionFilter(args);
  const fixed = executionFilter(within);
  // An instance's (or flow config's) executions are read from the store's per-instance lists.
  const instance = within.instance ?? args.instance ?? (within.flowConfig ?? args.flowConfig ? flowConfigOf(ctx, within.flowConfig ?? args.flowConfig)?.instanceId : undefined);
  const store = ctx.runtime.store;
  const items: ExecutionRecord[] = [];
  for (const x of candidates ?? (instance ? store.executionsOf(instance) : store.executions.values())) if (matches(x) && fixed(x)) items.push(x);
  const order = orderOf<ExecutionRecord>(args, { field: "STARTED_AT", direction: "DESC" }, (field) => {
    if (field === "STARTED_AT") return (x) => x.startedAt;
    if (field === "ENDED_AT") return (x) => x.endedAt ?? Number.MAX_SAFE_INTEGER;
    throw new GraphQLError(`Executions cannot be ordered by ${field}`);
  });
  return connection(items, args, { ...order, id: (x) => x.id }, 100);
}

function executionFilter(a: ExecutionArgs): (x: ExecutionRecord) => boolean {
  const tests: Array<(x: ExecutionRecord) => boolean> = [];
  const range = (name: string, value: string | null | undefined, get: (x: ExecutionRecord) => number | null, gte: boolean) => {
    const t = time(value, name);
    if (t !== undefined) tests.push((x) => get(x) !== null && (gte ? get(x)! >= t : get(x)! <= t));
  };
  const equal = <V>(value: V | null | undefined, get: (x: ExecutionRecord) => V) => {
    if (value !== null && value !== undefined) tests.push((x) => get(x) === value);
  };
  // An empty list filters nothing, as django-filter (Prismatic's) and `logs(severity_In:)` take it.
  const among = (values: Array<string | null> | null | undefined, get: (x: ExecutionRecord) => string | null) => {
    if (values?.length) tests.push((x) => values.includes(get(x)));
  };
  range("startedAt_Gte", a.startedAt_Gte, (x) => x.startedAt, true);
  range("startedAt_Lte", a.startedAt_Lte, (x) => x.startedAt, false);
  range("endedAt_Gte", a.endedAt_Gte, (x) => x.endedAt, true);
  range("endedAt_Lte", a.endedAt_Lte, (x) => x.endedAt, false);
  equal(a.endedAt_Isnull, (x) => x.endedAt === null);
  equal(a.error_Isnull, (x) => x.error === null);
  equal(a.flow ?? undefined, (x) => x.scope.flowId);
  equal(a.flowConfig_Flow ?? undefined, (x) => x.scope.flowId);
  equal(a.flowConfig, (x) => x.scope.flowConfigId);
  equal(a.id, (x) => x.id);
  among(a.id_In, (x) => x.id);
  equal(a.instance, (x) => x.scope.instanceId);
  equal(a.instance_Customer, (x) => x.scope.customerId);
  equal(a.instance_Integration, (x) => x.scope.integrationId);
  equal(a.integration, (x) => x.scope.integrationId);
  equal(a.instance_IsSystem, (x) => x.scope.isTestExecution);
  equal(a.isTestExecution, (x) => x.scope.isTestExecution);
  among(a.invokeType_In, (x) => x.invokeType);
  equal(a.replayForExecution_Isnull, (x) => !x.links?.replayOf);
  equal(a.resultType, (x) => x.resultType);
  among(a.resultType_In, (x) => x.resultType);
  equal(a.status, (x) => x.status);
  return (x) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i](x)) return false;
    return true;
  };
}

/** Executions that link to `x` in one way (replays, retries, invoked executions). */
function linked(ctx: ApiContext, x: ExecutionRecord, link: "replayOf" | "retryOf" | "invokedBy") {
  return ctx.runtime.store.linkedTo(x.id).filter((l) => l.links?.[link] === x.id);
}

const stepId = (x: ExecutionRecord, step: StepRecord) => Buffer.from(`InstanceStepResult:${x.id}/${step.stepName}`).toString("base64");

function stepNodeOf(ctx: ApiContext, id: string): StepNode | null {
  const decoded = Buffer.from(id, "base64").toString("utf8");
  const match = /^InstanceStepResult:(.+)\/(onTrigger|onExecution)$/.exec(decoded);
  const x = match && ctx.runtime.store.executions.get(match[1]);
  const step = x?.steps.find((s) => s.stepName === match![2]);
  return x && step ? { x, step } : null;
}

interface StepArgs extends PageArgs {
  displayStepName?: string | null;
  stepName?: string | null;
  executionResult?: string | null;
  hasError?: boolean | null;
  isLoopStep?: boolean | null;
  isRootResult?: boolean | null;
  loopPath?: string | null;
  loopStepName?: string | null;
  startedAt_Gte?: string | null;
  startedAt_Lte?: string | null;
  endedAt_Gte?: string | null;
  endedAt_Lte?: string | null;
  orderBy?: any;
  sortBy?: any;
}

/** Step results of the given executions that match, oldest first unless ordered otherwise. */
function stepResults(executions: Iterable<ExecutionRecord>, args: StepArgs) {
  const bounds = {
    startedGte: time(args.startedAt_Gte, "startedAt_Gte"),
    startedLte: time(args.startedAt_Lte, "startedAt_Lte"),
    endedGte: time(args.endedAt_Gte, "endedAt_Gte"),
    endedLte: time(args.endedAt_Lte, "endedAt_Lte"),
  };
  const items: StepNode[] = [];
  for (const x of executions) {
    for (const step of x.steps) {
      if (args.stepName != null && step.stepName !== args.stepName) continue;
      if (args.displayStepName != null && STEP_DISPLAY_NAMES[step.stepName] !== args.displayStepName) continue;
      if (args.hasError != null && step.hasError !== args.hasError) continue;
      // Code-native steps are never loop steps; all are root results, outside any loop.
      if (args.isLoopStep === true || args.isRootResult === false || args.loopPath != null || args.loopStepName != null) continue;
      if (bounds.startedGte !== undefined && step.startedAt < bounds.startedGte) continue;
      if (bounds.startedLte !== undefined && step.startedAt > bounds.startedLte) continue;
      if (bounds.endedGte !== undefined && step.endedAt < bounds.endedGte) continue;
      if (bounds.endedLte !== undefined && step.endedAt > bounds.endedLte) continue;
      items.push({ x, step });
    }
  }
  const order = orderOf<StepNode>(args, { field: "STARTED_AT", direction: "ASC" }, (field) => {
    if (field === "STARTED_AT") return (s) => s.step.startedAt;
    if (field === "ENDED_AT") return (s) => s.step.endedAt;
    throw new GraphQLError(`Step results cannot be ordered by ${field}`);
  });
  // Ties (a step often starts in the millisecond the one before it ended) go by execution, then step order.
  return connection(items, args, { ...order, id: (s) => `${s.x.id}/${s.step.stepName === "onTrigger" ? 0 : 1}` }, MAX_PAGE);
}

const blobUrl = (ctx: ApiContext, x: ExecutionRecord, part: string) => ctx.blobs.url(ctx.origin, `/results/${encodeURIComponent(x.id)}/${part}`);

export const executionResolvers: ApiResolvers = {
  RootQuery: {
    executionResult: (_: unknown, { id }: { id: string }, ctx: ApiContext) => ctx.runtime.store.executions.get(id) ?? null,
    executionResults: (_: unknown, args: ExecutionArgs, ctx: ApiContext) => executionResults(ctx, args),
    stepResult: (_: unknown, { id }: { id: string }, ctx: ApiContext) => stepNodeOf(ctx, id),
    stepResults: (_: unknown, args: StepArgs, ctx: ApiContext) => {
      const store = ctx.runtime.store;
      if (args.executionResult == null) return stepResults(store.executions.values(), args);
      const x = store.executions.get(args.executionResult);
      return stepResults(x ? [x] : [], args);
    },
    // Code-native executions have no sections (prism 10.4.0 asks only when a log line names one).
    executionSections: (_: unknown, args: PageArgs & { orderBy?: any }) => {
      orderOf(args, { field: "STARTED_AT", direction: "ASC" }, () => () => 0);
      return connection([] as Array<{ sectionId: string; label: string | null }>, args, { primary: () => 0, id: (s) => s.sectionId, descending: false });
    },
  },
  InstanceExecutionResult: {
    id: (x: ExecutionRecord) => x.id,
    status: (x: ExecutionRecord) => x.status,
    resultType: (x: ExecutionRecord) => x.resultType,
    invokeType: (x: ExecutionRecord) => x.invokeType,
    isTestExecution: (x: ExecutionRecord) => x.scope.isTestExecution,
    startedAt: (x: ExecutionRecord) => iso(x.startedAt),
    runStartedAt: (x: ExecutionRecord) => iso(x.runStartedAt),
    endedAt: (x: ExecutionRecord) => iso(x.endedAt),
    error: (x: ExecutionRecord) => x.error,
    versionNumber: (x: ExecutionRecord) => x.versionNumber,
    stepCount: (x: ExecutionRecord) => x.stepCount,
    retryCount: (x: ExecutionRecord) => x.links?.retryCount ?? 0,
    flow: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => flowNode(ctx, x.scope.flowId),
    flowConfig: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => flowConfigOf(ctx, x.scope.flowConfigId),
    instance: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => ctx.runtime.instances.instance(x.scope.instanceId) ?? null,
    integration: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => currentIntegration(ctx, x.scope.integrationId),
    lineage: (x: ExecutionRecord) => x,
    replayForExecution: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => (x.links?.replayOf && ctx.runtime.store.executions.get(x.links.replayOf)) ?? null,
    retryForExecution: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => (x.links?.retryOf && ctx.runtime.store.executions.get(x.links.retryOf)) ?? null,
    replays: (x: ExecutionRecord, args: ExecutionArgs, ctx: ApiContext) => executionResults(ctx, args, {}, linked(ctx, x, "replayOf")),
    retries: (x: ExecutionRecord, args: ExecutionArgs, ctx: ApiContext) => executionResults(ctx, { orderBy: { field: "STARTED_AT", direction: "ASC" }, ...args }, {}, linked(ctx, x, "retryOf")),
    invokedExecutions: (x: ExecutionRecord, args: ExecutionArgs, ctx: ApiContext) =>
      executionResults(ctx, { orderBy: { field: "STARTED_AT", direction: "ASC" }, ...args }, {}, linked(ctx, x, "invokedBy")),
    stepResults: (x: ExecutionRecord, args: StepArgs, ctx: ApiContext) => {
      if (args.executionResult != null && args.executionResult !== x.id) return stepResults([], args);
      return stepResults([x], args);
    },
    logs: (x: ExecutionRecord, args: any, ctx: ApiContext) => logConnection(ctx, args, { executionResult: x.id }),
    requestPayloadUrl: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => blobUrl(ctx, x, "request"),
    requestPayloadMetadataUrl: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => blobUrl(ctx, x, "request"),
  },
  InstanceExecutionLineage: {
    hasChildren: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => linked(ctx, x, "invokedBy").length > 0,
    invokedBy: (x: ExecutionRecord, _: unknown, ctx: ApiContext) => {
      const parent = x.links?.invokedBy && ctx.runtime.store.executions.get(x.links.invokedBy);
      return parent ? { execution: parent } : null;
    },
  },
  InstanceExecutionFrame: { execution: (f: { execution: ExecutionRecord }) => f.execution },
  InstanceStepResult: {
    id: (s: StepNode) => stepId(s.x, s.step),
    stepName: (s: StepNode) => s.step.stepName,
    displayStepName: (s: StepNode) => STEP_DISPLAY_NAMES[s.step.stepName],
    startedAt: (s: StepNode) => iso(s.step.startedAt),
    endedAt: (s: StepNode) => iso(s.step.endedAt),
    hasError: (s: StepNode) => s.step.hasError,
    isLoopStep: () => false,
    isRootResult: () => true,
    fromPreprocessFlow: () => false,
    executionResult: (s: StepNode) => s.x,
    // One URL for both: GET gives the MessagePack, HEAD its content-length (what VS Code asks).
    resultsUrl: (s: StepNode, _: unknown, ctx: ApiContext) => blobUrl(ctx, s.x, s.step.stepName),
    resultsMetadataUrl: (s: StepNode, _: unknown, ctx: ApiContext) => blobUrl(ctx, s.x, s.step.stepName),
  },
  ExecutionSection: {
    sectionId: (s: { sectionId: string }) => s.sectionId,
    label: (s: { label: string | null }) => s.label,
  },
};
