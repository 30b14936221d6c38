// What the server, the API, the CLI output and (later) the extension agree on about executions.
// Names and values are Prismatic's (contract.graphql) plus Refract's additions
// (runner-extensions.graphql).

/** QUEUED (accepted, waiting) → PENDING (running) → SUCCESS | ERROR | CANCELED. */
export type ExecutionStatus = "QUEUED" | "PENDING" | "SUCCESS" | "ERROR" | "CANCELED";

export type ExecutionResultType = "COMPLETED" | "ERROR" | "CANCELED_AS_DUPLICATE" | "CANCELED_BY_USER";

export type InvokeType =
  | "WEBHOOK"
  | "SCHEDULED"
  | "DEPLOY_FLOW"
  | "TEAR_DOWN_FLOW"
  | "CROSS_FLOW"
  | "INTEGRATION_FLOW_TEST";

/** Log severities with the numeric ids `logs(severity: N)` and `logSeverityLevels` use. */
export const SEVERITIES = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "METRIC"] as const;
export type Severity = (typeof SEVERITIES)[number];
export const severityId = (s: Severity): number => SEVERITIES.indexOf(s) + 1;

/** The two steps of every code-native flow, by the camelCase names clients filter on. */
export type StepName = "onTrigger" | "onExecution";
export const STEP_DISPLAY_NAMES: Record<StepName, string> = {
  onTrigger: "On Trigger",
  onExecution: "On Execution",
};

export type FlowTriggerKind = "WEBHOOK" | "SCHEDULE" | "INSTANCE_DEPLOY" | "INSTANCE_REMOVE";

/** The message of executions that were running when the runtime stopped (INTERFACES.md §1). */
export const STOPPED_BEFORE_FINISH = "runtime stopped before the execution finished";
