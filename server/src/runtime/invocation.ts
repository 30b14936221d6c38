// What starting an execution involves besides the runtime itself: how a caller learns about it,
// why it can be refused, and reading the request it was invoked with.

import type { InvokeType } from "../../../protocol/executions";
import type { ExecutionRecord, ExecutionStore } from "../store/executions";
import type { FlowDefinition } from "./definition";
import type { FlowResponse, TriggerRequest } from "./messages";

/** What the HTTP layer learns about an execution it started. */
export interface ExecutionWaiters {
  /** The trigger step finished: its own response, or undefined for the default answer. */
  onTrigger?: (response: FlowResponse | undefined) => void;
  onEnd?: (outcome: { error: string | null; response?: FlowResponse }) => void;
}

export interface Started {
  id: string;
  flow: FlowDefinition;
  /** Someone waits for the flow's result as the HTTP answer. */
  synchronous: boolean;
}

/** A webhook's place under backpressure (Runtime.admit). */
export interface Admission {
  /** Resolves once there is room; null when there is room now. */
  wait: Promise<void> | null;
  /** Gives the room back: once the execution is queued, or the request came to nothing. */
  release: () => void;
}

/** A webhook that cannot start an execution: the status and message to answer with. */
export class TriggerRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An action on an execution that cannot be done (replay, cancel); its message is meant for the user. */
export class ExecutionActionError extends Error {}

/** Which executions a bulk replay takes (runner-extensions.graphql, ReplayExecutionsInput). */
export interface ReplayFilter {
  instance?: string;
  customer?: string;
  flow?: string;
  invokeTypes?: InvokeType[];
  resultTypes?: string[];
  /** true: only executions without an error; false: only failed ones. */
  errorIsNull?: boolean;
  /** true: only originals (not replays themselves). */
  replayForExecutionIsNull?: boolean;
  startedAtGte?: number;
  startedAtLte?: number;
  /** Skip executions that already have a successful replay (default true). */
  skipSucceededReplays?: boolean;
}

export function matchesReplayFilter(x: ExecutionRecord, f: ReplayFilter, store: ExecutionStore): boolean {
  if (f.instance && x.scope.instanceId !== f.instance) return false;
  if (f.customer && x.scope.customerId !== f.customer) return false;
  if (f.flow && x.scope.flowId !== f.flow) return false;
  if (f.invokeTypes && !f.invokeTypes.includes(x.invokeType)) return false;
  if (f.resultTypes && !f.resultTypes.includes(x.resultType ?? "")) return false;
  if (f.errorIsNull !== undefined && (x.error === null) !== f.errorIsNull) return false;
  if (f.replayForExecutionIsNull !== undefined && !x.links?.replayOf !== f.replayForExecutionIsNull) return false;
  if (f.startedAtGte !== undefined && x.startedAt < f.startedAtGte) return false;
  if (f.startedAtLte !== undefined && x.startedAt > f.startedAtLte) return false;
  if (f.skipSucceededReplays !== false && store.linkedTo(x.id).some((r) => r.links?.replayOf === x.id && r.status === "SUCCESS")) return false;
  return true;
}

/** The webhook path segment where invokeFlow lands when it names a flow that does not exist. */
export const UNKNOWN_FLOW = "no-such-flow";

/**
 * The value of a field of the trigger payload the request makes (a path such as
 * `body.data.orderId`: `dedupeIdField`, `uniqueRequestIdField`). Read from the default payload: a
 * custom onTrigger's own payload is not known before the execution runs.
 */
export function payloadField(request: TriggerRequest, field: string): string | undefined {
  let data: unknown = Buffer.from(request.body).toString("utf8");
  try {
    data = JSON.parse(data as string);
  } catch {
    // not JSON: the body is the text
  }
  let value: any = { headers: request.headers, queryParameters: request.queryParameters, body: { data }, pathFragment: request.pathFragment };
  for (const part of field.split(".")) value = value?.[part];
  return value === undefined || value === null ? undefined : typeof value === "string" ? value : JSON.stringify(value);
}

/** A request header's value, whatever its casing. */
export function headerValue(headers: Record<string, string>, lowerCaseName: string): string | undefined {
  for (const name in headers) if (name.length === lowerCaseName.length && name.toLowerCase() === lowerCaseName) return headers[name];
  return undefined;
}

/** The trigger request of an execution that no HTTP request started: no body (spectral-runtime.md §4). */
export function emptyRequest(invokeUrl: string, headers: Record<string, string> = {}): TriggerRequest {
  return { method: "POST", headers, queryParameters: {}, body: new Uint8Array(0), contentType: "", pathFragment: "", invokeUrl };
}
