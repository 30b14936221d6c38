// The messages between the runtime (main thread) and its worker threads. Each side posts one
// array of messages per tick; binary parts (step results, request bodies) are transferred.

import { StepName } from "../../../protocol/executions";
import type { StepErrorConfig } from "./definition";

/**
 * What a worker's thread is doing, shared memory it writes before and after every callback:
 * [slot of the execution whose code runs, 1 while a callback runs, callbacks run so far]. A
 * thread stuck in one callback shows the same count twice with busy set: that slot blocks it.
 */
export const ACTIVITY_SLOT = 0;
export const ACTIVITY_BUSY = 1;
export const ACTIVITY_TICKS = 2;


/** The key a context base is kept by in a worker: its flow config, build and the runtime's revision of instances. */
export const contextKeyOf = (flowConfigId: string, version: number, revision: number): string => `${flowConfigId}:${version}:${revision}`;

/** The build a context key belongs to. */
export const contextVersion = (key: string): number => Number(key.split(":")[1]);

/** What a flow config gives every execution's context; sent once per worker and kept by key. */
export interface ContextBase {
  configVars: Record<string, unknown>;
  /** Required config variables without a value: each execution logs a WARN naming them. */
  missingConfigVars: string[];
  customer: { id: string; externalId: string | null; name: string };
  instance: { id: string; name: string };
  user: { id: string; email: string; name: string; externalId: string };
  integration: { id: string; name: string; versionSequenceId: string; externalVersion: string };
  flow: { id: string; name: string; stableId: string };
  webhookUrls: Record<string, string>;
  /** Where `webhookUrls[<a name that is not a flow>]` points, so invokeFlow fails with a clear error. */
  unknownFlowUrl: string;
  webhookApiKeys: Record<string, string[]>;
  runnerAllocatedMemoryMb: number;
}

export interface TriggerRequest {
  method: string;
  /** Header names with the caller's casing. */
  headers: Record<string, string>;
  queryParameters: Record<string, string>;
  body: Uint8Array;
  contentType: string;
  pathFragment: string;
  invokeUrl: string;
}

/**
 * A trigger request as stored (the execution's request payload) and as sent to a worker: one
 * line of JSON with everything but the body, then the raw body bytes. The main thread encodes
 * it once, which costs less than MessagePack or the structured clone of the object. Requests
 * follow each other in a shared slab: no allocation of their own, and the blob file takes a
 * tick's requests in one write vector. A view is posted whole only in a copy (PoolWorker.flush):
 * the structured clone of a view copies its entire buffer.
 */
export function encodeRequest(r: TriggerRequest): Buffer {
  const head = JSON.stringify({
    method: r.method,
    headers: r.headers,
    queryParameters: r.queryParameters,
    contentType: r.contentType,
    pathFragment: r.pathFragment,
    invokeUrl: r.invokeUrl,
  });
  const headLength = Buffer.byteLength(head);
  const out = slabBytes(headLength + 1 + r.body.byteLength);
  out.write(head, 0, "utf8");
  out[headLength] = 0x0a;
  out.set(r.body, headLength + 1);
  return out;
}

const SLAB_BYTES = 64 * 1024;
let slab = Buffer.allocUnsafeSlow(0);
let slabUsed = 0;

/** Room for `size` bytes after the last request's; a large request has a buffer of its own. */
function slabBytes(size: number): Buffer {
  if (size > SLAB_BYTES / 4) return Buffer.allocUnsafeSlow(size);
  if (slabUsed + size > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  return slab.subarray(slabUsed, (slabUsed += size));
}

/**
 * Copies the bytes of the messages that have some (`bytes`) into one buffer of their own and
 * points each message at its copy (`point`); returns that buffer, for postMessage to move, or
 * null. One buffer a tick instead of one each: the receiving thread then makes one ArrayBuffer,
 * and a file takes adjacent copies in one write vector (AppendFile.append).
 */
export function gatherBytes<M>(messages: M[], bytes: (m: M) => Uint8Array | null, point: (m: M, copy: Buffer) => void): ArrayBuffer | null {
  let size = 0;
  for (const m of messages) size += bytes(m)?.byteLength ?? 0;
  if (size === 0) return null;
  const all = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const m of messages) {
    const b = bytes(m);
    if (!b) continue;
    all.set(b, at);
    point(m, all.subarray(at, (at += b.byteLength)));
  }
  return all.buffer;
}

export function decodeRequest(bytes: Uint8Array): TriggerRequest {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const newline = buf.indexOf(0x0a);
  const head = JSON.parse(buf.toString("utf8", 0, newline));
  return {
    method: head.method,
    headers: head.headers,
    queryParameters: head.queryParameters,
    body: buf.subarray(newline + 1),
    contentType: head.contentType,
    pathFragment: head.pathFragment,
    invokeUrl: head.invokeUrl,
  };
}

/**
 * An HTTP answer computed by user code: a trigger's `response` or a sync flow's result. The
 * worker makes it one Node can send: a final status, and only headers Node takes and framing
 * does not own (the webhook checks `contentType`, which decides between an answer and a 500).
 */
export interface FlowResponse {
  statusCode: number;
  contentType: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Characters Node accepts in a header value. */
export const isHeaderValue = (value: string) => !/[^\t\x20-\x7e\x80-\xff]/.test(value);

export type HookName = "onInstanceDeploy" | "onInstanceDelete";

/** The state scopes that outlive an execution (spectral-runtime.md §3). */
export interface PersistedState {
  instanceState: Record<string, unknown>;
  crossFlowState: Record<string, unknown>;
  integrationState: Record<string, unknown>;
}

export type ToWorker =
  | { t: "load"; version: number; file: string }
  | { t: "unload"; version: number }
  | { t: "context"; key: string; base: ContextBase }
  /** The execution was canceled: it runs no further step, and what it still produces is discarded. */
  | { t: "cancel"; id: string }
  /** Runs a trigger's lifecycle hook; answered by `hookDone`. */
  | { t: "hook"; requestId: number; slot: number; version: number; contextKey: string; triggerKey: string; hook: HookName; state: PersistedState | null }
  | {
      t: "run";
      id: string;
      /** A small number naming the execution in the worker's activity slots (pool.ts). */
      slot: number;
      version: number;
      contextKey: string;
      triggerKey: string | null;
      executionKey: string;
      /** Someone waits for the result as an HTTP answer: format it (`ended.response`). */
      synchronous: boolean;
      startedAt: number;
      /** `encodeRequest`'s bytes. */
      request: Uint8Array;
      /** Null when every scope is empty (most flows keep no state). */
      state: PersistedState | null;
      errorConfig: StepErrorConfig | null;
    };

export type FromWorker =
  /** `hooks`: the lifecycle hooks each trigger (by key) has. */
  | { t: "loaded"; version: number; ok: true; key: string; yaml: string; hooks: Record<string, HookName[]> }
  | { t: "loaded"; version: number; ok: false; error: string }
  | { t: "started"; id: string; at: number }
  /** NDJSON log records, already formatted; `id` null for a hook's lines. */
  | { t: "logs"; id: string | null; lines: string }
  /** `state`: set when the hook changed it. */
  | { t: "hookDone"; requestId: number; error: string | null; state?: PersistedState }
  | {
      t: "step";
      id: string;
      stepName: StepName;
      /** MessagePack `{data, contentType}`; null for an onTrigger result that is the payload as received (triggerPayload.ts). */
      result: Uint8Array | null;
      startedAt: number;
      endedAt: number;
      hasError: boolean;
      /** The trigger's own HTTP response, when it returned one. */
      response?: FlowResponse;
    }
  /** `state`: set when a successful execution changed it, to be persisted. */
  | { t: "ended"; id: string; at: number; error: string | null; response?: FlowResponse; state?: PersistedState }
  /** The worker is about to end because of user code (`process.exit`, an uncaught exception). */
  | { t: "fatal"; id: string | null; reason: string };
