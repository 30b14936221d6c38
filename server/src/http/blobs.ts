import { createHmac, createHash, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import { IncomingMessage, ServerResponse } from "node:http";
import { decodeRequest } from "../runtime/messages";
import { Runtime } from "../runtime/runtime";
import { StepName } from "../../../protocol/executions";
import { safeDecode, sendJson } from "./respond";
import type { RequestTarget } from "./server";

/** How long a blob URL works, as Prismatic's presigned URLs (INTERFACES.md §5). */
export const BLOB_URL_TTL_S = 3600;

/**
 * Blob URLs (INTERFACES.md §5, prismatic-api/clients.md §3): Prismatic's clients fetch step results
 * and request payloads from short-lived presigned URLs with no auth header, so Refract's carry an
 * expiry and an HMAC signature instead of the token:
 * - `/results/<executionId>/<onTrigger|onExecution>`: GET the MessagePack `{data, contentType}`,
 *   HEAD its `content-length` (what `resultsMetadataUrl` points at);
 * - `/results/<executionId>/request`: GET the trigger request as JSON `{body (base64), contentType,
 *   headers, queryParameters, method, pathFragment}` (`requestPayloadUrl`).
 * The signing key is derived from the API token, so a new token retires every URL.
 */
export class BlobSigner {
  private readonly key: Buffer;

  constructor(token: string) {
    this.key = createHash("sha256").update(`refract blob urls\n${token}`).digest();
  }

  /** An absolute, signed URL for a blob path such as `/results/<id>/onExecution`. */
  url(baseUrl: string, path: string, ttlS = BLOB_URL_TTL_S, now = Date.now()): string {
    const expires = Math.floor(now / 1000) + ttlS;
    return `${baseUrl}${path}?expires=${expires}&signature=${this.signature(path, expires)}`;
  }

  /** Why a signed path is refused, or null when its signature is good and it has not expired. */
  refusal(path: string, search: URLSearchParams, now = Date.now()): string | null {
    // Exactly as `url()` writes them: Number() and base64url decoding would also take other
    // spellings ("0042", "+42", characters the decoder skips), and a URL that differs is not the one signed.
    const expiresText = search.get("expires") ?? "";
    const expires = /^[1-9]\d{0,15}$/.test(expiresText) ? Number(expiresText) : NaN;
    const signature = search.get("signature") ?? "";
    const given = Buffer.from(/^[A-Za-z0-9_-]{43}$/.test(signature) ? signature : "", "base64url");
    const expected = Buffer.from(this.signature(path, expires), "base64url");
    if (!Number.isSafeInteger(expires) || given.length !== expected.length || !timingSafeEqual(given, expected)) return "The URL's signature is missing or does not match";
    if (expires * 1000 < now) return "The URL has expired; fetch a fresh one through the API";
    return null;
  }

  private signature(path: string, expires: number): string {
    return createHmac("sha256", this.key).update(`${path}\n${expires}`).digest("base64url");
  }
}

const STEPS = new Set<string>(["onTrigger", "onExecution"]);

export async function handleBlob(runtime: Runtime, signer: BlobSigner, req: IncomingMessage, res: ServerResponse, url: RequestTarget): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: `Blob URLs answer GET and HEAD, not ${req.method}` }, { allow: "GET, HEAD" });
  const refusal = signer.refusal(url.pathname, new URLSearchParams(url.search));
  if (refusal) return sendJson(res, 403, { error: refusal });
  const [, , executionId, part] = url.pathname.split("/");
  const x = runtime.store.executions.get(safeDecode(executionId ?? ""));
  if (!x) return sendJson(res, 404, { error: `No stored execution ${executionId} (retention may have removed it)` });

  // A blob file cut short (a crash before its write reached the disk, a damaged copy) answers
  // that, rather than a length it cannot send.
  const incomplete = (what: string) => sendJson(res, 500, { error: `The stored ${what} of execution ${x.id} is incomplete: its day's blobs.bin ends before it` });
  if (part === "request") {
    if (!x.request) return sendJson(res, 404, { error: `Execution ${x.id} has no stored request` });
    const bytes = await runtime.store.readBlob(x, x.request);
    if (!bytes) return incomplete("request");
    const r = decodeRequest(bytes);
    const body = JSON.stringify({ body: Buffer.from(r.body).toString("base64"), contentType: r.contentType, headers: r.headers, queryParameters: r.queryParameters, method: r.method, pathFragment: r.pathFragment });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), "cache-control": "private, no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
    return;
  }
  const step = STEPS.has(part ?? "") ? x.steps.find((s) => s.stepName === (part as StepName)) : undefined;
  if (!step) return sendJson(res, 404, { error: `Execution ${x.id} has no ${part} step result` });
  if (step.payload !== undefined) {
    const bytes = await runtime.store.readStepResult(x, step);
    if (!bytes) return incomplete(`${part} result`);
    res.writeHead(200, { "content-type": "application/x-msgpack", "content-length": bytes.length, "cache-control": "private, no-store" });
    return void res.end(req.method === "HEAD" ? undefined : bytes);
  }
  const file = await runtime.store.blobFile(x);
  const size = (await fs.promises.stat(file).catch(() => null))?.size ?? 0;
  if (step.offset + step.length > size) return incomplete(`${part} result`);
  res.writeHead(200, { "content-type": "application/x-msgpack", "content-length": step.length, "cache-control": "private, no-store" });
  if (req.method === "HEAD" || step.length === 0) return void res.end();
  // Streamed from the day's blob file: a large result is not read into memory first.
  fs.createReadStream(file, { start: step.offset, end: step.offset + step.length - 1 })
    .on("error", () => res.destroy())
    .pipe(res);
}

/**
 * DNS-rebinding defence for `/results`, `/api` and `/ui` (INTERFACES.md §5): the Host header must
 * name this server (127.0.0.1, localhost or [::1] with its port, the `--host` address) or be one
 * of the `--allowed-host` names. Webhooks skip it: their callers come through tunnels.
 */
export function hostAllowed(hostHeader: string | undefined, listenHost: string, port: number, allowedHosts: string[]): boolean {
  if (!hostHeader) return false;
  const host = hostHeader.toLowerCase();
  const local = ["127.0.0.1", "localhost", "[::1]", listenHost.includes(":") ? `[${listenHost}]` : listenHost].map((h) => `${h.toLowerCase()}:${port}`);
  if (local.includes(host)) return true;
  const name = host.replace(/:\d+$/, "");
  return allowedHosts.some((a) => a.toLowerCase() === name || a.toLowerCase() === host);
}
