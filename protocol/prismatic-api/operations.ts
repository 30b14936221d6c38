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

/** The newest executions, a page after a cursor (the Executions view). */
export const RecentExecutions = typed<
  { executionResults: { nodes: ExecutionSummary[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } },
  { first: number; after?: string | null }
>(`query RecentExecutions($first: Int!, $after: String) {
  executionResults(first: $first, after: $after) {
    nodes { id status invokeType startedAt endedAt error flow { name } instance { name isSystem } }
    pageInfo { hasNextPage endCursor }
  }
}`);

/** Every document above, for validation against the schema. */
export const OPERATIONS: Record<string, string> = { ExecutionSteps: String(ExecutionSteps), ExecutionLogs: String(ExecutionLogs), RecentExecutions: String(RecentExecutions) };
