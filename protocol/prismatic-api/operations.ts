// The GraphQL operations Refract's own clients send (the extension and the browser UI), typed once
// here for graphql-request: `client.request(ExecutionSteps, { id })` knows its variables and result.
// Every document is validated against the served schema in test/api/clients.test.ts.

import type { TypedDocumentString } from "graphql-request";

/** A document with its result and variables types (graphql-request sends it as the string it is). */
const typed = <Result, Variables>(document: string) => document as unknown as TypedDocumentString<Result, Variables>;

export type ExecutionStatus = "QUEUED" | "PENDING" | "SUCCESS" | "ERROR" | "CANCELED";
export type LogSeverityLevel = "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL" | "METRIC";

export interface StepResultSummary {
  id: string;
  stepName: string;
  displayStepName: string;
  startedAt: string;
  endedAt: string;
  hasError: boolean;
  /** GET: the MessagePack `{data, contentType}`; HEAD: its size. Signed, no token needed. */
  resultsUrl: string;
}

export const ExecutionSteps = typed<
  {
    executionResult: {
      id: string;
      status: ExecutionStatus;
      startedAt: string;
      endedAt: string | null;
      error: string | null;
      stepResults: { nodes: StepResultSummary[] };
    } | null;
  },
  { id: string }
>(`query ExecutionSteps($id: ID!) {
  executionResult(id: $id) {
    id
    status
    startedAt
    endedAt
    error
    stepResults(orderBy: {field: STARTED_AT, direction: ASC}) {
      nodes { id stepName displayStepName startedAt endedAt hasError resultsUrl }
    }
  }
}`);

export interface LogLine {
  id: string;
  timestamp: string;
  severity: LogSeverityLevel;
  message: string;
  stepName: string | null;
}

/** An execution's log lines, oldest first, a page after a cursor (tailing passes the last cursor it saw). */
export const ExecutionLogs = typed<
  { logs: { edges: Array<{ cursor: string; node: LogLine }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } },
  { executionResult: string; after?: string | null; first?: number }
>(`query ExecutionLogs($executionResult: ID!, $after: String, $first: Int = 100) {
  logs(executionResult: $executionResult, after: $after, first: $first, orderBy: {field: TIMESTAMP, direction: ASC}) {
    edges { cursor node { id timestamp severity message stepName } }
    pageInfo { hasNextPage endCursor }
  }
}`);


export interface ExecutionSummary {
  id: string;
  status: ExecutionStatus;
  invokeType: string;
  startedAt: string;
  endedAt: string | null;
  error: string | null;
  flow: { name: string } | null;
  instance: { name: string; isSystem: boolean } | null;
}

/** The Executions view's filters (all optional). */
export interface ExecutionFilter {
  status?: ExecutionStatus | null;
  flow?: string | null;
  instance?: string | null;
  customer?: string | null;
  invokeTypes?: string[] | null;
  /** ISO-8601: started at or after. */
  since?: string | null;
}

/** The newest executions that match, a page after a cursor (the Executions view). */
export const RecentExecutions = typed<
  { executionResults: { nodes: ExecutionSummary[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } },
  { first: number; after?: string | null } & ExecutionFilter
>(`query RecentExecutions($first: Int!, $after: String, $status: ExecutionStatus, $flow: ID, $instance: ID, $customer: ID, $invokeTypes: [String], $since: DateTime) {
  executionResults(first: $first, after: $after, status: $status, flow: $flow, instance: $instance, instance_Customer: $customer, invokeType_In: $invokeTypes, startedAt_Gte: $since) {
    nodes { id status invokeType startedAt endedAt error flow { name } instance { name isSystem } }
    pageInfo { hasNextPage endCursor }
  }
}`);

export interface FlowSummary {
  id: string;
  name: string;
  stableKey: string | null;
  triggerKind: "WEBHOOK" | "SCHEDULE" | "INSTANCE_DEPLOY" | "INSTANCE_REMOVE";
}

export interface InstanceSummary {
  id: string;
  name: string;
  isSystem: boolean;
  enabled: boolean;
  needsDeploy: boolean;
  lastDeployedAt: string | null;
  customer: { id: string; name: string };
  flowConfigs: { nodes: FlowConfigSummary[] };
}

/** The integration and its instances with their flows: the whole Instances view in one query. */
export const IntegrationTree = typed<
  {
    integrations: { nodes: Array<{ id: string; name: string; versionNumber: number; flows: { nodes: FlowSummary[] } }> };
    instances: { nodes: InstanceSummary[] };
  },
  Record<string, never>
>(`query IntegrationTree {
  integrations { nodes { id name versionNumber flows { nodes { id name stableKey triggerKind } } } }
  instances {
    nodes {
      id name isSystem enabled needsDeploy lastDeployedAt customer { id name }
      flowConfigs { nodes { id webhookUrl schedule { cron timeZone nextRunsAt(count: 1) } flow { id name stableKey triggerKind } } }
    }
  }
}`);

export interface FlowConfigSummary {
  id: string;
  webhookUrl: string;
  /** Its flow's schedule for its instance; null for unscheduled flows. */
  schedule: { cron: string | null; timeZone: string | null; nextRunsAt: string[] } | null;
  flow: FlowSummary;
}

/** Customers and their instances (the Customers view). */
export const CustomerTree = typed<
  { customers: { nodes: Array<{ id: string; name: string; externalId: string | null; instances: { nodes: Array<{ id: string; name: string }> } }> } },
  Record<string, never>
>(`query CustomerTree {
  customers(isSystem: false) { nodes { id name externalId instances { nodes { id name } } } }
}`);

/** An instance's newest executions. */
export const InstanceExecutions = typed<{ instance: { executionResults: { nodes: ExecutionSummary[] } } | null }, { id: string; first: number }>(`query InstanceExecutions($id: ID!, $first: Int!) {
  instance(id: $id) {
    executionResults(first: $first) { nodes { id status invokeType startedAt endedAt error flow { name } instance { name isSystem } } }
  }
}`);

type Linked = { id: string; status: ExecutionStatus; flow: { name: string } | null };

/** What an execution's children in the Executions view show: its steps and its lineage. */
export const ExecutionDetail = typed<
  {
    executionResult: {
      id: string;
      stepResults: { nodes: StepResultSummary[] };
      lineage: { invokedBy: { execution: Linked | null } | null };
      replayForExecution: Linked | null;
      retryForExecution: Linked | null;
      replays: { nodes: Linked[] };
      retries: { nodes: Linked[] };
      invokedExecutions: { nodes: Linked[] };
    } | null;
  },
  { id: string }
>(`query ExecutionDetail($id: ID!) {
  executionResult(id: $id) {
    id
    stepResults { nodes { id stepName displayStepName startedAt endedAt hasError resultsUrl } }
    lineage { invokedBy { execution { id status flow { name } } } }
    replayForExecution { id status flow { name } }
    retryForExecution { id status flow { name } }
    replays { nodes { id status flow { name } } }
    retries { nodes { id status flow { name } } }
    invokedExecutions { nodes { id status flow { name } } }
  }
}`);

type Payload<K extends string, T> = { [key in K]: { errors: Array<{ field: string; messages: string[] }> } & T };

export const TestIntegrationFlow = typed<
  Payload<"testIntegrationFlow", { testIntegrationFlowResult: { execution: { id: string } } | null }>,
  { flow: string; payload: string; contentType: string; headers: string }
>(`mutation TestIntegrationFlow($flow: ID!, $payload: String, $contentType: String, $headers: String) {
  testIntegrationFlow(input: {id: $flow, payload: $payload, contentType: $contentType, headers: $headers}) {
    testIntegrationFlowResult { execution { id } }
    errors { field messages }
  }
}`);

export const TestInstanceFlowConfig = typed<
  Payload<"testInstanceFlowConfig", { testInstanceFlowConfigResult: { execution: { id: string } } | null }>,
  { flowConfig: string; payload: string; contentType: string; headers: string }
>(`mutation TestInstanceFlowConfig($flowConfig: ID!, $payload: String, $contentType: String, $headers: String) {
  testInstanceFlowConfig(input: {id: $flowConfig, payload: $payload, contentType: $contentType, headers: $headers}) {
    testInstanceFlowConfigResult { execution { id } }
    errors { field messages }
  }
}`);

export const ReplayExecution = typed<Payload<"replayExecution", { instanceExecutionResult: { id: string } | null }>, { id: string }>(`mutation ReplayExecution($id: ID!) {
  replayExecution(input: {id: $id}) { instanceExecutionResult { id } errors { field messages } }
}`);

export const CancelExecution = typed<Payload<"cancelExecution", { instanceExecutionResult: { id: string } | null }>, { id: string }>(`mutation CancelExecution($id: ID!) {
  cancelExecution(input: {id: $id}) { instanceExecutionResult { id } errors { field messages } }
}`);

export const DeployInstance = typed<Payload<"deployInstance", { instance: { id: string } | null }>, { id: string }>(`mutation DeployInstance($id: ID!) {
  deployInstance(input: {id: $id}) { instance { id } errors { field messages } }
}`);

export const SetInstanceEnabled = typed<Payload<"updateInstance", { instance: { id: string; enabled: boolean } | null }>, { id: string; enabled: boolean }>(`mutation SetInstanceEnabled($id: ID!, $enabled: Boolean!) {
  updateInstance(input: {id: $id, enabled: $enabled}) { instance { id enabled } errors { field messages } }
}`);

export const DeleteInstance = typed<Payload<"deleteInstance", { instance: { id: string; name: string } | null }>, { id: string }>(`mutation DeleteInstance($id: ID!) {
  deleteInstance(input: {id: $id}) { instance { id name } errors { field messages } }
}`);

export const CreateCustomer = typed<Payload<"createCustomer", { customer: { id: string; name: string } | null }>, { name: string }>(`mutation CreateCustomer($name: String!) {
  createCustomer(input: {name: $name}) { customer { id name } errors { field messages } }
}`);

export const RenameCustomer = typed<Payload<"updateCustomer", { customer: { id: string; name: string } | null }>, { id: string; name: string }>(`mutation RenameCustomer($id: ID!, $name: String!) {
  updateCustomer(input: {id: $id, name: $name}) { customer { id name } errors { field messages } }
}`);

export const DeleteCustomer = typed<Payload<"deleteCustomer", { customer: { id: string } | null }>, { id: string }>(`mutation DeleteCustomer($id: ID!) {
  deleteCustomer(input: {id: $id}) { customer { id } errors { field messages } }
}`);

export interface ConfigVariableState {
  value: string | null;
  requiredConfigVariable: { key: string; dataType: string; defaultValue: string | null };
}

export const CreateInstance = typed<
  Payload<"createInstance", { instance: { id: string; name: string; configVariables: { nodes: ConfigVariableState[] } } | null }>,
  { customer: string; integration: string; name: string }
>(`mutation CreateInstance($customer: ID!, $integration: ID!, $name: String!) {
  createInstance(input: {customer: $customer, integration: $integration, name: $name}) {
    instance { id name configVariables { nodes { value requiredConfigVariable { key dataType defaultValue } } } }
    errors { field messages }
  }
}`);

export const SetConfigVariables = typed<
  Payload<"updateInstanceConfigVariables", { instance: { id: string } | null }>,
  { id: string; configVariables: Array<{ key: string; value: string }> }
>(`mutation SetConfigVariables($id: ID!, $configVariables: [InputInstanceConfigVariable]) {
  updateInstanceConfigVariables(input: {id: $id, configVariables: $configVariables}) { instance { id } errors { field messages } }
}`);

/** Replays failed executions that have no successful replay yet (of one flow, or all). */
export const ReplayFailedExecutions = typed<
  Payload<"replayExecutions", { count: number; instanceExecutionResults: { nodes: Array<{ id: string }> } }>,
  { flow?: string | null }
>(`mutation ReplayFailedExecutions($flow: ID) {
  replayExecutions(input: {flow: $flow, error_Isnull: false, replayForExecution_Isnull: true}) {
    count
    instanceExecutionResults(first: 1000) { nodes { id } }
    errors { field messages }
  }
}`);

/** What saving an execution's payload as a file needs: its flow, and where its trigger request is. */
export const ExecutionRequest = typed<{ executionResult: { requestPayloadUrl: string; flow: { name: string; stableKey: string | null } | null } | null }, { id: string }>(`query ExecutionRequest($id: ID!) {
  executionResult(id: $id) { requestPayloadUrl flow { name stableKey } }
}`);

/** Every document above, for validation against the schema. */
// The execution panel and the log explorer (webview/).

export interface LinkedExecution {
  id: string;
  status: ExecutionStatus;
  startedAt: string;
  endedAt: string | null;
  flow: { name: string } | null;
}

export interface ExecutionView {
  id: string;
  status: ExecutionStatus;
  invokeType: string;
  startedAt: string;
  runStartedAt: string | null;
  endedAt: string | null;
  error: string | null;
  versionNumber: number | null;
  requestPayloadUrl: string;
  flow: { id: string; name: string } | null;
  instance: { id: string; name: string; isSystem: boolean; customer: { id: string; name: string } } | null;
  stepResults: { nodes: StepResultSummary[] };
  lineage: { invokedBy: { execution: LinkedExecution | null } | null };
  replayForExecution: LinkedExecution | null;
  retryForExecution: LinkedExecution | null;
  replays: { nodes: LinkedExecution[] };
  retries: { nodes: LinkedExecution[] };
  invokedExecutions: { nodes: LinkedExecution[] };
}

/** Everything the execution panel shows but the logs and the blobs' contents. */
export const ExecutionPanel = typed<{ executionResult: ExecutionView | null }, { id: string }>(`query ExecutionPanel($id: ID!) {
  executionResult(id: $id) {
    id status invokeType startedAt runStartedAt endedAt error versionNumber requestPayloadUrl
    flow { id name }
    instance { id name isSystem customer { id name } }
    stepResults { nodes { id stepName displayStepName startedAt endedAt hasError resultsUrl } }
    lineage { invokedBy { execution { ...Linked } } }
    replayForExecution { ...Linked }
    retryForExecution { ...Linked }
    replays { nodes { ...Linked } }
    retries { nodes { ...Linked } }
    invokedExecutions { nodes { ...Linked } }
  }
}
fragment Linked on InstanceExecutionResult { id status startedAt endedAt flow { name } }`);

export interface LogRow {
  id: string;
  timestamp: string;
  severity: LogSeverityLevel;
  message: string;
  stepName: string | null;
  flowName: string | null;
  instanceName: string | null;
  executionResultId: string | null;
}

/** The log explorer's filters; the scope is one of executionResult, flow, instance, customer or none. */
export interface LogFilter {
  executionResult?: string | null;
  flow?: string | null;
  instance?: string | null;
  customer?: string | null;
  /** false hides the system instance's (test) executions' logs. */
  isTestExecution?: boolean | null;
  severities?: LogSeverityLevel[] | null;
  text?: string | null;
  /** ISO-8601. */
  from?: string | null;
  to?: string | null;
}

const LOG_FILTER_VARIABLES = "$executionResult: ID, $flow: ID, $instance: ID, $customer: ID, $isTestExecution: Boolean, $severities: [LogSeverityLevel], $text: String, $from: DateTime, $to: DateTime";
const LOG_FILTER_ARGUMENTS = "executionResult: $executionResult, flow: $flow, instance: $instance, customer: $customer, isTestExecution: $isTestExecution, severity_In: $severities, message_Icontains: $text, timestamp_Gte: $from, timestamp_Lte: $to";

/**
 * A page of matching lines, newest first: by position (`offset`, for a jump), or next to a page
 * already read (`after` its endCursor, or `last` lines `before` its startCursor), which the server
 * answers without counting its way there.
 */
export const LogPage = typed<
  { logs: { totalCount: number; nodes: LogRow[]; pageInfo: { startCursor: string | null; endCursor: string | null } } },
  LogFilter & { offset?: number | null; after?: string | null; before?: string | null; first?: number | null; last?: number | null; count: boolean }
>(`query LogPage($offset: Int, $after: String, $before: String, $first: Int, $last: Int, $count: Boolean!, ${LOG_FILTER_VARIABLES}) {
  logs(offset: $offset, after: $after, before: $before, first: $first, last: $last, orderBy: {field: TIMESTAMP, direction: DESC}, ${LOG_FILTER_ARGUMENTS}) {
    totalCount @include(if: $count)
    nodes { id timestamp severity message stepName flowName instanceName executionResultId }
    pageInfo { startCursor endCursor }
  }
}`);

export interface HistogramBucket {
  start: string;
  end: string;
  counts: Array<{ severity: LogSeverityLevel; count: number }>;
}

export const LogVolume = typed<{ logHistogram: HistogramBucket[] }, LogFilter & { buckets: number }>(`query LogVolume($buckets: Int!, ${LOG_FILTER_VARIABLES}) {
  logHistogram(buckets: $buckets, ${LOG_FILTER_ARGUMENTS}) { start end counts { severity count } }
}`);

/** Which execution and step a step result id names (the panel opens it as a document). */
export const StepOf = typed<{ stepResult: { stepName: string; executionResult: { id: string } } | null }, { id: string }>(`query StepOf($id: ID!) {
  stepResult(id: $id) { stepName executionResult { id } }
}`);

export const OPERATIONS: Record<string, string> = Object.fromEntries(
  Object.entries({
    ExecutionSteps, ExecutionLogs, RecentExecutions, IntegrationTree, CustomerTree, InstanceExecutions, ExecutionDetail,
    ExecutionRequest, CreateInstance, SetConfigVariables, ReplayFailedExecutions, TestIntegrationFlow, TestInstanceFlowConfig, ReplayExecution, CancelExecution, DeployInstance, SetInstanceEnabled, DeleteInstance, CreateCustomer, RenameCustomer, DeleteCustomer,
    ExecutionPanel, LogPage, LogVolume, StepOf,
  }).map(([name, document]) => [name, String(document)]),
);
