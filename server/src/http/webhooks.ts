import { IncomingMessage, ServerResponse } from "node:http";
import { FlowResponse, TriggerRequest, isHeaderValue } from "../runtime/messages";
import { ExecutionWaiters, TriggerRefused } from "../runtime/invocation";
import { Runtime } from "../runtime/runtime";
import { readBody, safeDecode, sendJson } from "./respond";
import type { RequestTarget } from "./server";

export interface WebhookOptions {
  maxBodyBytes: number;
  syncTimeoutMs: number;
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/**
 * `/trigger/<flowConfigId>[/<pathFragment>]`: starts an execution and answers as INTERFACES.md §2
 * says: at once for plain async flows, after the trigger step for flows with their own
 * `onTrigger`, and with the flow's result for synchronous ones.
 */
export async function handleWebhook(runtime: Runtime, req: IncomingMessage, res: ServerResponse, url: RequestTarget, options: WebhookOptions): Promise<void> {
  const [, , flowConfigId, ...fragment] = url.pathname.split("/");
  if (!METHODS.has(req.method ?? "")) {
    return sendJson(res, 405, { error: `Webhooks accept ${[...METHODS].join(", ")}, not ${req.method}` }, { allow: [...METHODS].join(", ") });
  }
  // The caller's casing, repeated headers joined. `__proto__` is defined as an own property, so
  // that it is kept as a header rather than setting the object's prototype.
  const headers: Record<string, string> = {};
  let contentType = "";
  let declared = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = Object.hasOwn(headers, name) ? `${headers[name]}, ${req.rawHeaders[i + 1]}` : req.rawHeaders[i + 1];
    if (name === "__proto__") Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
    else headers[name] = value;
    if (name.length === 12 && !contentType && name.toLowerCase() === "content-type") contentType = req.rawHeaders[i + 1];
    else if (name.length === 14 && name.toLowerCase() === "content-length") declared = Number(value);
  }
  if (declared > options.maxBodyBytes) return tooLarge(req, res, options);
  let admission;
  try {
    admission = runtime.admit(headers);
  } catch (err) {
    if (!(err instanceof TriggerRefused)) throw err;
    req.resume();
    return sendJson(res, err.status, { error: err.message }, { "retry-after": "1" });
  }

  // The worker may report before trigger() resolves, so outcomes are kept until looked at.
  let triggered: { response?: FlowResponse } | undefined;
  let ended: { error: string | null; response?: FlowResponse } | undefined;
  let wake = () => {};
  const waiters: ExecutionWaiters = {
    onTrigger: (response) => ((triggered = { response }), wake()),
    onEnd: (outcome) => ((ended = outcome), wake()),
  };

  let started;
  try {
    if (admission.wait) await admission.wait;
    const body = await readBody(req, options.maxBodyBytes);
    if (body === null) return tooLarge(req, res, options);
    const request: TriggerRequest = {
      method: req.method!,
      headers,
      queryParameters: url.search ? Object.fromEntries(new URLSearchParams(url.search)) : {},
      body,
      contentType,
      pathFragment: fragment.map(safeDecode).join("/"),
      invokeUrl: `${runtime.baseUrl}${url.pathname}${url.search}`,
    };
    try {
      started = await runtime.trigger(safeDecode(flowConfigId ?? ""), request, waiters);
    } catch (err) {
      if (err instanceof TriggerRefused) return sendJson(res, err.status, { error: err.message });
      return sendJson(res, 500, { error: `Could not record the execution: ${(err as Error).message}` });
    }
  } finally {
    admission.release(); // queued by now, or never will be
  }
  const { id: executionId, flow, synchronous: isSync } = started;
  const idHeader = { "prismatic-executionid": executionId };

  if (!isSync && !flow.triggerKey) return sendJson(res, 200, { executionId }, idHeader);

  const deadline = isSync ? options.syncTimeoutMs : Number.POSITIVE_INFINITY;
  const done = () => (isSync ? ended !== undefined : triggered !== undefined || ended !== undefined);
  await new Promise<void>((resolve) => {
    if (done()) return resolve();
    const timer = Number.isFinite(deadline) ? setTimeout(resolve, deadline) : null;
    wake = () => {
      if (!done()) return;
      if (timer) clearTimeout(timer);
      resolve();
    };
  });
  // What the answer tells (the trigger ran, the execution ended) is handed to the OS first: a
  // crash right after the answer would otherwise leave an execution that runs again at restart.
  await runtime.store.flushed();

  if (!isSync && triggered) {
    return triggered.response ? sendFlowResponse(res, triggered.response, idHeader) : sendJson(res, 200, { executionId }, idHeader);
  }
  if (!ended) {
    return sendJson(res, 504, { error: `The synchronous execution did not end within ${options.syncTimeoutMs / 1000} s (--sync-timeout); it goes on`, executionId }, idHeader);
  }
  if (ended.error !== null) return sendJson(res, 500, { error: ended.error, executionId }, idHeader);
  return sendFlowResponse(res, ended.response!, idHeader);
}

function sendFlowResponse(res: ServerResponse, r: FlowResponse, extra: Record<string, string>): void {
  if (!isHeaderValue(r.contentType)) {
    return sendJson(res, 500, { error: "The flow's response has a contentType that is not a valid header value", executionId: extra["prismatic-executionid"] }, extra);
  }
  // 204 and 304 answers have no body, and so no length.
  const bodiless = r.statusCode === 204 || r.statusCode === 304;
  res.writeHead(r.statusCode, { ...r.headers, "content-type": r.contentType, ...(bodiless ? {} : { "content-length": r.body.byteLength }), ...extra });
  res.end(bodiless ? undefined : r.body);
}

function tooLarge(req: IncomingMessage, res: ServerResponse, options: WebhookOptions): void {
  sendJson(res, 413, { error: `The request body is larger than ${options.maxBodyBytes / (1024 * 1024)} MB (--max-body)` }, { connection: "close" });
  req.resume();
}
