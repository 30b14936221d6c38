import * as http from "node:http";
import { AddressInfo } from "node:net";
import { Duplex } from "node:stream";
import { Runtime } from "../runtime/runtime";
import type { ApiEndpoint } from "./api";
import { sendJson } from "./respond";
import { BlobSigner, handleBlob, hostAllowed } from "./blobs";
import { eventsEndpoint, uiEndpoint } from "./ui";
import { WebhookOptions, handleWebhook } from "./webhooks";

export interface HttpOptions extends WebhookOptions {
  blobs: BlobSigner;
  /** The API's bearer token. */
  token: string;
  /** The listening address and the extra Host names `/api`, `/results`, `/ui` and `/events` accept. */
  host: string;
  allowedHosts: string[];
}

/** The one HTTP listener: webhooks, the GraphQL API, blob URLs, and the browser UI with its event stream. */
export function createHttpServer(runtime: Runtime, options: HttpOptions): { server: http.Server; warm: () => void } {
  // The API (graphql-js: two fifths of this bundle) is loaded when `warm` is called (`serve` does
  // while the integration builds) or by its first request: start-up does not wait for it.
  let apiLoaded: ApiEndpoint | null = null;
  const api = () => (apiLoaded ??= (require("./api") as typeof import("./api")).apiEndpoint(runtime, { token: options.token, blobs: options.blobs, maxBodyBytes: options.maxBodyBytes }));
  const ui = uiEndpoint();
  const events = eventsEndpoint(runtime, options.token);
  const failed = (res: http.ServerResponse) => (err: unknown) => {
    if (!res.headersSent) sendJson(res, 500, { error: `Internal error: ${(err as Error).message}` });
    else res.destroy();
  };
  // Without a Host header a request still reaches its route, which answers as it should (webhooks
  // run, the rest refuse the unknown host), rather than Node's bare 400.
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    const url = requestTarget(req.url ?? "/");
    if (!url) return sendJson(res, 400, { error: "Malformed request URL" });
    if (url.pathname.startsWith("/trigger/")) {
      handleWebhook(runtime, req, res, url, options).catch(failed(res));
      return;
    }
    const { pathname } = url;
    const isApi = pathname === "/api" || pathname === "/api/";
    const isUi = pathname === "/ui" || pathname.startsWith("/ui/");
    if (!isApi && !isUi && pathname !== "/events" && !pathname.startsWith("/results/")) {
      return sendJson(res, 404, { error: `Nothing at ${pathname}; webhooks are at /trigger/<flowConfigId>, the GraphQL API at /api, the UI at /ui` });
    }
    // Everything but webhooks answers only requests addressed to this server (DNS rebinding).
    if (!hostAllowed(req.headers.host, options.host, req.socket.localPort ?? 0, options.allowedHosts)) {
      return sendJson(res, 403, { error: `Host "${req.headers.host ?? ""}" is not this server; add it with --allowed-host if it is` });
    }
    if (isUi) return ui(req, res, pathname);
    if (pathname === "/events") return events(req, res);
    // What reads stored executions waits for their index, which loads just after start-up (a
    // restart answers webhooks at once, but a query then would miss what is not loaded yet).
    runtime.storeLoaded.then(() => (isApi ? api()(req, res, url) : handleBlob(runtime, options.blobs, req, res, url))).catch(failed(res));
  });
  // Malformed requests and oversized headers get a JSON answer instead of a bare status line.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    socket.end(rawJson(status, { error: status === 431 ? "Request headers are too large" : `Malformed HTTP request: ${err.code ?? err.message}` }));
  });
  // `Expect: 100-continue`: a body declared over --max-body is refused before the client sends it;
  // any other expectation gets a JSON 417 instead of Node's bare one.
  server.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (Number(req.headers["content-length"]) > options.maxBodyBytes) {
      return sendJson(res, 413, { error: `The request body is larger than ${options.maxBodyBytes / (1024 * 1024)} MB (--max-body)` }, { connection: "close" });
    }
    res.writeContinue();
    server.emit("request", req, res);
  });
  server.on("checkExpectation", (req: http.IncomingMessage, res: http.ServerResponse) => {
    sendJson(res, 417, { error: `Expect: ${req.headers.expect} is not one this server meets (only 100-continue)` });
  });
  // CONNECT (a proxy tunnel) would otherwise have its socket dropped without an answer.
  server.on("connect", (_req: http.IncomingMessage, socket: Duplex) => socket.end(rawJson(405, { error: "This server is not a proxy: CONNECT is not answered" })));
  server.keepAliveTimeout = 65_000;
  return { server, warm: () => api().warm() };
}

/** A whole JSON answer for a socket that no ServerResponse owns; the connection closes after it. */
function rawJson(status: number, body: unknown): string {
  const text = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
}

export interface RequestTarget {
  pathname: string;
  /** `?…` or "". */
  search: string;
}

/** The path and query of a request target; origin-form is split by hand, as `new URL` costs more per request. */
function requestTarget(raw: string): RequestTarget | null {
  if (raw.startsWith("/")) {
    const q = raw.indexOf("?");
    return q < 0 ? { pathname: raw, search: "" } : { pathname: raw.slice(0, q), search: raw.slice(q) };
  }
  try {
    const url = new URL(raw);
    return { pathname: url.pathname, search: url.search };
  } catch {
    return null;
  }
}

/**
 * Listens on `port`; when `fallback` is set and the port is taken, tries the next ones (the
 * default port's behaviour in INTERFACES.md §1). Resolves to the port it got.
 */
export function listen(server: http.Server, host: string, port: number, fallback: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    let attempt = port;
    const tryListen = () => {
      server.once("error", onError);
      server.listen(attempt, host, () => {
        server.off("error", onError);
        resolve((server.address() as AddressInfo).port);
      });
    };
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE" && fallback && attempt < port + 100) {
        attempt++;
        return tryListen();
      }
      reject(err);
    };
    tryListen();
  });
}
