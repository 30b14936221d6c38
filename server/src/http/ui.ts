import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { IncomingMessage, ServerResponse } from "node:http";
import * as path from "node:path";
import { EVENT_BUILD, EVENT_EXECUTIONS, pageHtml } from "../../../protocol/webview";
import { watchExecutions } from "../runtime/changes";
import { Runtime } from "../runtime/runtime";
import { bearerCheck } from "./auth";
import { sendJson } from "./respond";

/** Open `/events` streams at most; each holds a socket and a listener. */
const MAX_EVENT_STREAMS = 64;
/** What may wait unread for one /events reader before it is dropped. */
const MAX_UNREAD_EVENT_BYTES = 1024 * 1024;
/** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
const KEEPALIVE_MS = 20_000;

/**
 * `/ui`: the browser host of the execution panel and the log explorer, the same bundle as the
 * VS Code webviews (dist/webview/, built from webview/src/). The page reads the API token from
 * its URL fragment (`/ui#token=…`, which never reaches the server) and calls `/api` with it.
 */
export function uiEndpoint(): (req: IncomingMessage, res: ServerResponse, pathname: string) => void {
  const folder = webviewFolder();
  const files = new Set(folder ? fs.readdirSync(folder) : []);
  // Read once and shared: pipelined requests then queue references, not copies.
  const contents = new Map<string, Buffer>();
  return (req, res, pathname) => {
    if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: "The UI answers GET" }, { allow: "GET, HEAD" });
    if (!folder) return sendJson(res, 503, { error: "The UI is not built: run `npm run build`" });
    const name = pathname === "/ui" || pathname === "/ui/" ? "" : pathname.slice("/ui/".length);
    const headers = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY" };
    if (name === "") {
      const nonce = randomBytes(16).toString("base64");
      const html = pageHtml({ nonce, source: "'self'", connect: "'self'", script: "/ui/webview.js", style: "/ui/webview.css", host: "browser" });
      res.writeHead(200, { ...headers, "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(html) });
      return void res.end(req.method === "HEAD" ? undefined : html);
    }
    // Only the bundle's own files, by exact name: no path is ever joined from the request.
    if (!files.has(name)) return sendJson(res, 404, { error: `No UI file ${name}` });
    let bytes = contents.get(name);
    if (!bytes) contents.set(name, (bytes = fs.readFileSync(path.join(folder, name))));
    res.writeHead(200, { ...headers, "content-type": CONTENT_TYPES[path.extname(name)] ?? "application/octet-stream", "cache-control": "no-cache", "content-length": bytes.length });
    res.end(req.method === "HEAD" ? undefined : bytes);
  };
}

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".ttf": "font/ttf",
  ".map": "application/json",
};

/**
 * `/events`: server-sent events for the browser UI, with the API's bearer token (the page reads
 * the stream with `fetch`, as EventSource cannot send headers): `executions` with the changes the
 * language server also notifies, `build` with the build state at once and after each build.
 */
export function eventsEndpoint(runtime: Runtime, token: string): (req: IncomingMessage, res: ServerResponse) => void {
  const authorized = bearerCheck(token);
  let open = 0;
  return (req, res) => {
    if (!authorized(req, res)) return;
    if (req.method !== "GET") return sendJson(res, 405, { error: "/events answers GET" }, { allow: "GET" });
    if (open >= MAX_EVENT_STREAMS) return sendJson(res, 503, { error: `Too many open /events streams (${MAX_EVENT_STREAMS})` }, { "retry-after": "5" });
    open++;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" });
    res.write("retry: 2000\n\n");
    // A reader that stops reading is dropped once this much waits for it (it reconnects, and the
    // page reloads what it shows); else every change would pile up in this process for it.
    const write = (text: string) => (res.writableLength > MAX_UNREAD_EVENT_BYTES ? res.destroy() : res.write(text));
    const send = (event: string, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const stop = watchExecutions(runtime.store, (changes) => send(EVENT_EXECUTIONS, { changes }));
    const onBuild = (b: { ok: boolean; error: string | null; versionNumber: number }) => send(EVENT_BUILD, { ok: b.ok, error: b.error, versionNumber: b.versionNumber });
    onBuild(runtime.build);
    runtime.on("build", onBuild);
    const keepalive = setInterval(() => write(": keepalive\n\n"), KEEPALIVE_MS);
    res.on("close", () => {
      open--;
      stop();
      runtime.off("build", onBuild);
      clearInterval(keepalive);
    });
  };
}

/** dist/webview, found from this file in the sources (tests) and in dist/ (the bundle); null when not built. */
function webviewFolder(): string | null {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    for (const candidate of [path.join(dir, "webview"), path.join(dir, "dist", "webview")]) {
      if (fs.existsSync(path.join(candidate, "webview.js"))) return candidate;
    }
  }
  return null;
}
