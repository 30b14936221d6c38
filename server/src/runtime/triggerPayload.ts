// The payload an execution's trigger gets (spectral-runtime.md §4), and the onTrigger step result
// it becomes when the flow has no trigger of its own. That result is not stored: it holds the
// request three times over (the bytes as base64, the parsed body, and the request blob it is
// made from), two thirds of every webhook execution's bytes and of its worker's time. The store
// keeps the request and, once per day, the context below, and makes the result again from them
// when it is read: the same bytes (ExecutionStore.readStepResult).

import { isUtf8 } from "node:buffer";
import { ContextBase, TriggerRequest, decodeRequest } from "./messages";
import { encodeResult, isJson, isText } from "./stepResult";

/** What the payload takes from its flow config's context. */
export type PayloadContext = Pick<ContextBase, "webhookUrls" | "webhookApiKeys" | "customer" | "instance" | "user" | "integration" | "flow">;

/** The picked fields only: configVars, which may hold secrets, never reach the journal. */
export const payloadContext = (c: PayloadContext): PayloadContext => ({
  webhookUrls: c.webhookUrls,
  webhookApiKeys: c.webhookApiKeys,
  customer: c.customer,
  instance: c.instance,
  user: c.user,
  integration: c.integration,
  flow: c.flow,
});

export function triggerPayload(request: TriggerRequest, context: PayloadContext, executionId: string, startedAt: string) {
  const rawBody = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
  return {
    headers: request.headers,
    queryParameters: request.queryParameters,
    rawBody: { data: rawBody, contentType: request.contentType },
    body: { data: parseBody(rawBody, request.contentType), contentType: request.contentType },
    pathFragment: request.pathFragment,
    webhookUrls: context.webhookUrls,
    webhookApiKeys: context.webhookApiKeys,
    invokeUrl: request.invokeUrl,
    executionId,
    customer: context.customer,
    instance: context.instance,
    user: context.user,
    integration: context.integration,
    flow: context.flow,
    startedAt,
    globalDebug: false,
  };
}

/** The onTrigger result of a flow without a trigger of its own, from its stored request (`encodeRequest`'s bytes). */
export function payloadResult(request: Uint8Array, context: PayloadContext, executionId: string, startedAt: number): Uint8Array {
  return encodeResult(storable(triggerPayload(decodeRequest(request), context, executionId, new Date(startedAt).toISOString())), undefined);
}

/**
 * A trigger result as stored: the request's bytes (`rawBody.data`, a binary `body.data`) as
 * base64 strings rather than JSON.stringify's array of numbers, four times the size.
 */
export function storable(payload: any): unknown {
  if (!payload || typeof payload !== "object") return payload;
  const base64 = (part: any) => (part && typeof part === "object" && part.data instanceof Uint8Array ? { ...part, data: Buffer.from(part.data.buffer, part.data.byteOffset, part.data.byteLength).toString("base64") } : part);
  return { ...payload, rawBody: base64(payload.rawBody), body: base64(payload.body) };
}

function parseBody(body: Buffer, contentType: string): unknown {
  if (isJson(contentType)) {
    if (!isUtf8(body)) return body; // JSON is UTF-8: these bytes are not JSON, and as text would lose some
    const text = body.toString("utf8");
    try {
      return JSON.parse(text);
    } catch {
      return text; // Prismatic runs the flow with the raw text when JSON does not parse
    }
  }
  // Text that is not UTF-8 would lose bytes as a string: it comes as the bytes, as binary does.
  if (isText(contentType) || !contentType) return isUtf8(body) ? body.toString("utf8") : body;
  return body;
}
