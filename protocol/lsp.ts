// The custom LSP messages between the extension (client/) and the language server that hosts the
// runtime (server/src/lsp/), declared once for both sides. Methods are `refract/<noun><Verb>`.

import { NotificationType, RequestType0 } from "vscode-languageserver-protocol";
import type { ExecutionStatus, InvokeType } from "./executions";

/**
 * The settings the client passes as `initializationOptions` and, later, in
 * `workspace/didChangeConfiguration` (`{settings: {refract: Settings}}`). All optional; the server
 * uses `refract serve`'s defaults for what is missing. Every one of them takes effect when the
 * runtime (re)starts: a change while it runs gets a message saying so.
 */
export interface Settings {
  /** The HTTP port; the default port moves to the next free one when taken. 0: any free port. */
  port?: number;
  host?: string;
  /** Where executions and metadata live; relative paths are from the workspace folder. Default `<workspace>/.refract`. */
  dataDir?: string;
  retentionDays?: number;
  executionTimeoutS?: number;
  memoryLimitMb?: number;
  maxConcurrency?: number;
  /** The integration's entry, relative to the workspace folder. Default `src/index.ts`. */
  entry?: string;
}

/** Where the runtime answers, once it is up. */
export interface RuntimeInfo {
  /** The GraphQL endpoint (`<url>/api`), for graphql-request with `Authorization: Bearer <token>`. */
  apiUrl: string;
  /** Webhook URLs are `<webhookBaseUrl>/<flowConfigId>`. */
  webhookBaseUrl: string;
  token: string;
  port: number;
  dataDir: string;
  /** The server process (a crash is noticed by the client, which restarts it). */
  pid: number;
}

/** Resolves once the runtime is up (the first build done, the system instance deployed). */
export const RuntimeInfoRequest = new RequestType0<RuntimeInfo, void>("refract/runtimeInfo");

/** The state of an execution after a change, as views show it. */
export interface ExecutionChange {
  id: string;
  status: ExecutionStatus;
  invokeType: InvokeType;
  flowId: string;
  flowName: string;
  instanceId: string;
  customerId: string;
  /** ISO-8601. */
  startedAt: string;
  endedAt: string | null;
  error: string | null;
  /** Step results stored so far. */
  stepCount: number;
  /** New log lines were written since the last notification. */
  logged: boolean;
}

/**
 * Executions that changed (queued, started, a step finished, log lines written, ended) since the
 * last notification: at most one every 100 ms, each execution once, in its latest state. Views
 * update from these without polling; details come from the API.
 */
export const ExecutionsChangedNotification = new NotificationType<{ changes: ExecutionChange[] }>("refract/executionsChanged");

/** The integration was built (at start-up and after each change of its sources). */
export interface BuildState {
  ok: boolean;
  /** What failed, with file, line and column when the build or `integration()` failed; the last good version keeps running. */
  error: string | null;
  versionNumber: number;
}

export const BuildStateNotification = new NotificationType<BuildState>("refract/buildState");
