import { CORE_SCHEMA, load } from "js-yaml";
import { FlowTriggerKind } from "../../../protocol/executions";
import type { HookName } from "./messages";
import { scheduleError } from "./scheduler";

/**
 * The integration as Refract runs it, read from spectral's `codeNativeIntegrationYAML`
 * (definitionVersion 7, spectral-runtime.md §2). The YAML is the model; the bundle only supplies
 * the functions its steps name.
 */
export interface IntegrationDefinition {
  name: string;
  description: string;
  category: string | null;
  labels: string[];
  flows: FlowDefinition[];
  configVars: ConfigVarDefinition[];
}

export interface FlowDefinition {
  name: string;
  stableKey: string;
  description: string;
  triggerKind: FlowTriggerKind;
  /** Key in `bundle.triggers` when the flow has its own `onTrigger`; null for built-in triggers. */
  triggerKey: string | null;
  /** The trigger step's component and action (the integration's own component, or a built-in trigger's). */
  trigger: { componentKey: string; actionKey: string; ownComponent: boolean };
  /** Key in `bundle.actions` of the `onExecution` step. */
  executionKey: string;
  isSynchronous: boolean;
  /** `customer_required` (the flow config's apiKeys), `organization` (organizationApiKeys), `customer_optional`, `unsecured`. */
  endpointSecurityType: string | null;
  organizationApiKeys: string[];
  schedule: ScheduleDefinition | null;
  queueConfig: QueueConfig | null;
  retryConfig: RetryConfig | null;
  /** What a failing step does (copied onto both steps in the YAML). */
  errorConfig: StepErrorConfig | null;
  /** The lifecycle hooks its trigger has (they live on the trigger object, not in the YAML). */
  hooks: HookName[];
}

/** How a flow's executions wait for each other (spectral-runtime.md §7). */
export interface QueueConfig {
  usesFifoQueue: boolean;
  concurrencyLimit: number | null;
  singletonExecutions: boolean;
  /** A path into the trigger payload, such as `body.data.orderId`. */
  dedupeIdField: string | null;
}

/** Automatic retries of failed asynchronous executions (spectral-runtime.md §7). */
export interface RetryConfig {
  maxAttempts: number;
  delayMinutes: number;
  usesExponentialBackoff: boolean;
  /** A path into the trigger payload: a newer request with the same value cancels pending retries. */
  uniqueRequestIdField: string | null;
}

export interface StepErrorConfig {
  errorHandlerType: "fail" | "ignore" | "retry";
  maxAttempts: number;
  delaySeconds: number;
  usesExponentialBackoff: boolean;
  ignoreFinalError: boolean;
}

export type ScheduleDefinition =
  | { type: "value"; cron: string; timeZone: string | null }
  | { type: "configVar"; configVar: string };

export interface ConfigVarDefinition {
  key: string;
  stableKey: string;
  dataType: string;
  defaultValue: string | null;
  collectionType: string | null;
  isConnection: boolean;
  /** For schedule config variables: the IANA time zone their cron expressions run in. */
  timeZone: string | null;
}

interface YamlStep {
  name: string;
  errorConfig?: Record<string, any>;
  isTrigger?: boolean;
  action: { key: string; component: { key: string; isPublic: boolean } };
  schedule?: { type: string; value: string; meta?: { timeZone?: string } };
}

const BUILT_IN_TRIGGER_KINDS: Record<string, FlowTriggerKind> = {
  "webhook-triggers": "WEBHOOK",
  "schedule-triggers": "SCHEDULE",
};
const MANAGEMENT_TRIGGER_KINDS: Record<string, FlowTriggerKind> = {
  instanceDeploy: "INSTANCE_DEPLOY",
  instanceRemove: "INSTANCE_REMOVE",
};

/** Reads the YAML of one load; `bundleKey` is that load's `integration().key`. Throws on a model it cannot run. */
export function readDefinition(yamlText: string, bundleKey: string, hooks: Record<string, HookName[]> = {}): IntegrationDefinition {
  // The core schema, as spectral's `yaml` wrote it: no timestamps or binaries out of plain scalars.
  const doc = load(yamlText, { schema: CORE_SCHEMA }) as Record<string, any>;
  if (!doc || !Array.isArray(doc.flows)) throw new Error("codeNativeIntegrationYAML has no flows");
  const ownKey = (step: YamlStep) => step.action.component.isPublic === false && step.action.component.key === bundleKey;
  const flows = (doc.flows as Record<string, any>[]).map((f): FlowDefinition => {
    const steps = f.steps as YamlStep[];
    const trigger = steps.find((s) => s.isTrigger);
    const execution = steps.find((s) => !s.isTrigger);
    if (!trigger || !execution || !ownKey(execution)) throw new Error(`flow "${f.name}" does not have the two steps of a code-native flow`);
    let triggerKind = BUILT_IN_TRIGGER_KINDS[trigger.action.component.key] ?? MANAGEMENT_TRIGGER_KINDS[trigger.action.key];
    if (ownKey(trigger)) triggerKind = trigger.schedule ? "SCHEDULE" : "WEBHOOK";
    if (!triggerKind) throw new Error(`flow "${f.name}" uses trigger ${trigger.action.component.key}/${trigger.action.key}, which Refract cannot run locally`);
    return {
      name: f.name,
      stableKey: f.stableKey,
      description: f.description ?? "",
      triggerKind,
      triggerKey: ownKey(trigger) ? trigger.action.key : null,
      trigger: { componentKey: trigger.action.component.key, actionKey: trigger.action.key, ownComponent: ownKey(trigger) },
      executionKey: execution.action.key,
      isSynchronous: f.isSynchronous === true,
      endpointSecurityType: f.endpointSecurityType ?? null,
      organizationApiKeys: Array.isArray(f.organizationApiKeys) ? f.organizationApiKeys.map(String) : [],
      schedule: readSchedule(trigger.schedule),
      queueConfig: readQueueConfig(f.queueConfig),
      retryConfig: readRetryConfig(f.retryConfig),
      errorConfig: readErrorConfig(trigger.errorConfig ?? execution.errorConfig),
      hooks: ownKey(trigger) ? (hooks[trigger.action.key] ?? []) : [],
    };
  });
  for (const f of flows) {
    const problem = f.schedule?.type === "value" ? scheduleError({ cron: f.schedule.cron, timeZone: f.schedule.timeZone }) : null;
    if (problem) throw new Error(`flow "${f.name}" has an ${problem}`);
  }
  const configVarNames = new Set(((doc.requiredConfigVars ?? []) as Record<string, any>[]).map((v) => v.key));
  for (const f of flows) {
    if (f.schedule?.type === "configVar" && !configVarNames.has(f.schedule.configVar)) {
      throw new Error(`flow "${f.name}" takes its schedule from config variable "${f.schedule.configVar}", which the integration does not declare`);
    }
  }
  const seen = new Map<string, string>();
  for (const f of flows) {
    for (const key of [f.executionKey, f.stableKey]) {
      const other = seen.get(key);
      if (other) throw new Error(`flows "${other}" and "${f.name}" collide: both use the key "${key}"; rename one of them`);
      seen.set(key, f.name);
    }
  }
  const configVars = ((doc.requiredConfigVars ?? []) as Record<string, any>[]).map(
    (v): ConfigVarDefinition => ({
      key: v.key,
      stableKey: v.stableKey ?? v.key,
      dataType: v.dataType ?? (v.connection ? "connection" : "string"),
      defaultValue: v.defaultValue ?? null,
      collectionType: v.collectionType ?? null,
      isConnection: Boolean(v.connection),
      timeZone: v.timeZone || null,
    }),
  );
  // A schedule config variable's time zone is fixed in code, and its default is where every
  // instance starts (the system instance's value): either one wrong would fail every deploy.
  for (const f of flows) {
    const s = f.schedule;
    const v = s?.type === "configVar" ? configVars.find((c) => c.key === s.configVar) : undefined;
    const given = typeof v?.defaultValue === "string" && v.defaultValue.trim() ? v.defaultValue : null;
    const problem = v && (given || v.timeZone) ? scheduleError({ cron: given ?? "0 0 * * *", timeZone: v.timeZone }) : null;
    if (problem) throw new Error(`config variable "${v!.key}" (the schedule of flow "${f.name}") has an ${problem}`);
  }
  const labels = Array.isArray(doc.labels) ? doc.labels.filter((l: unknown): l is string => typeof l === "string") : [];
  return { name: String(doc.name), description: doc.description ?? "", category: typeof doc.category === "string" ? doc.category : null, labels, flows, configVars };
}

function readQueueConfig(q: Record<string, any> | undefined): QueueConfig | null {
  if (!q) return null;
  return {
    usesFifoQueue: q.usesFifoQueue === true,
    concurrencyLimit: typeof q.concurrencyLimit === "number" && q.concurrencyLimit > 0 ? q.concurrencyLimit : null,
    singletonExecutions: q.singletonExecutions === true,
    dedupeIdField: payloadPath(q.dedupeIdField),
  };
}

function readRetryConfig(r: Record<string, any> | undefined): RetryConfig | null {
  if (!r) return null;
  return {
    maxAttempts: Math.max(0, Number(r.maxAttempts) || 0),
    delayMinutes: Math.max(0, Number(r.delayMinutes) || 0),
    usesExponentialBackoff: r.usesExponentialBackoff === true,
    uniqueRequestIdField: payloadPath(r.uniqueRequestIdField),
  };
}

function readErrorConfig(e: Record<string, any> | undefined): StepErrorConfig | null {
  if (!e || !["fail", "ignore", "retry"].includes(e.errorHandlerType)) return null;
  return {
    errorHandlerType: e.errorHandlerType,
    maxAttempts: Math.max(0, Number(e.maxAttempts) || 0),
    delaySeconds: Math.max(0, Number(e.delaySeconds) || 0),
    usesExponentialBackoff: e.usesExponentialBackoff === true,
    ignoreFinalError: e.ignoreFinalError === true,
  };
}

/** A field of the trigger payload, such as `body.data.orderId`; the YAML may hold it as a reference into the trigger step's results. */
function payloadPath(field: unknown): string | null {
  const value = typeof field === "string" ? field : (field as { value?: unknown } | undefined)?.value;
  return typeof value === "string" && value ? value.replace(/^[A-Za-z]+\.results\./, "") : null;
}

function readSchedule(s: YamlStep["schedule"]): ScheduleDefinition | null {
  if (!s) return null;
  if (s.type === "configVar") return { type: "configVar", configVar: s.value };
  return { type: "value", cron: s.value, timeZone: s.meta?.timeZone || null };
}

/** A config variable's stored string as user code sees it in `context.configVars` (spectral-runtime.md §2). */
export function configVarValue(v: ConfigVarDefinition, raw: string | null): unknown {
  if (v.isConnection) {
    return { key: v.key, configVarKey: v.key, fields: raw ? safeJson(raw, {}) : {} };
  }
  if (raw === null) return undefined;
  if (v.collectionType === "valuelist" || v.collectionType === "keyvaluelist") return safeJson(raw, []);
  switch (v.dataType) {
    case "boolean":
      return raw === "true";
    case "number":
      return Number(raw);
    case "schedule":
      return { value: raw, schedule_type: "custom", time_zone: "" };
    default:
      return raw;
  }
}

/**
 * Why a stored string cannot be a config variable's value, or null: `configVarValue` would
 * otherwise turn it silently into false, NaN or an empty list. Schedules are checked where they
 * are armed (lifecycle.ts); connections hold whatever their inputs are.
 */
export function configValueError(v: ConfigVarDefinition, raw: string): string | null {
  if (v.isConnection || !raw.trim()) return null; // blank is "no value", which required-variable checks report
  if (v.collectionType === "valuelist" || v.collectionType === "keyvaluelist") {
    return Array.isArray(safeJson(raw, null)) ? null : `must be a JSON array (it is a ${v.collectionType})`;
  }
  if (v.dataType === "boolean" && raw !== "true" && raw !== "false") return `must be "true" or "false", not ${JSON.stringify(raw.slice(0, 40))}`;
  if (v.dataType === "number" && !Number.isFinite(Number(raw))) return `must be a number, not ${JSON.stringify(raw.slice(0, 40))}`;
  return null;
}

function safeJson(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
