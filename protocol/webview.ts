// The bridge between the UI (webview/) and its host, declared once for both sides. Inside VS Code
// the host is the extension (client/src/panels/) and these messages travel by postMessage; in a
// browser at `/ui` the bridge answers the same calls itself with `/api`, the blob URLs and `/events`.

import type { ExecutionChange } from "./lsp";

/** What a panel shows. */
export type View =
  | { kind: "executions" }
  | { kind: "execution"; id: string }
  | { kind: "logs"; scope: LogScope };

/** The log explorer's scope: the seed's three places (instance, customer, all) plus ours. */
export interface LogScope {
  kind: "all" | "customer" | "instance" | "flow" | "execution";
  /** The customer's, instance's, flow's or execution's id; absent for "all". */
  id?: string;
  /** What the title says, e.g. the instance's name. */
  label?: string;
}

export type HostRequest =
  | { kind: "graphql"; query: string; variables?: Record<string, unknown> }
  /** A signed blob URL (step result, request payload): its bytes. */
  | { kind: "blob"; url: string };

/** Webview → extension. */
export type WebviewMessage =
  | { type: "ready" }
  | { type: "request"; seq: number; request: HostRequest }
  /** Open (or focus) the panel for another view. */
  | { type: "open"; view: View }
  | { type: "copy"; text: string }
  /** What the panel shows, for its tab. */
  | { type: "title"; title: string }
  /** Show an instance or a customer in the Refract trees. */
  | { type: "reveal"; kind: "instance" | "customer"; id: string }
  /** A step result or an execution's logs as a read-only document (`refract:` URI). */
  | { type: "openDocument"; kind: "step" | "logs"; id: string }
  /** A panel's state under a key (the log explorer's filters): the extension keeps it for the next panel of that kind. */
  | { type: "state"; key: string; state: unknown };

/** Extension → webview. */
export type HostMessage =
  /** Show a view; `state` is what panels of this kind last kept (see the `state` message). */
  | { type: "show"; view: View; state?: Record<string, unknown> }
  | { type: "response"; seq: number; ok: true; data: unknown }
  | { type: "response"; seq: number; ok: false; error: string }
  | { type: "executions"; changes: ExecutionChange[] };

/** `/events` (server-sent events): `event: executions` with `{changes}`, `event: build` with the build state (at once, then after each build). */
export const EVENT_EXECUTIONS = "executions";
export const EVENT_BUILD = "build";

/**
 * The page both hosts serve around the bundle: one script, allowed by its nonce, under a
 * Content-Security-Policy that allows nothing else (no inline script, no remote anything). `source`
 * is where the bundle's files may come from (`webview.cspSource` in VS Code, 'self' in a browser);
 * `connect` what the script may fetch (nothing in VS Code, where the extension fetches).
 */
export function pageHtml(page: { nonce: string; source: string; connect: string; script: string; style: string; host: "vscode" | "browser" }): string {
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${page.nonce}'`,
    `style-src ${page.source}`,
    `font-src ${page.source}`,
    `img-src ${page.source} data: blob:`,
    `connect-src ${page.connect}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  return `<!DOCTYPE html>
<html lang="en" data-host="${page.host}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Refract</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${page.style}">
</head>
<body>
<main id="app" aria-live="polite"></main>
<script nonce="${page.nonce}" src="${page.script}"></script>
</body>
</html>
`;
}
