// The UI's entry: picks the bridge for its host (the page says which) and shows the view the host asks for.

import "@vscode/codicons/dist/codicon.css";
import "./style.css";
import type { BuildState, ExecutionChange } from "../../protocol/lsp";
import type { View } from "../../protocol/webview";
import { Bridge, browserBridge, browserToken, exhaustive, vscodeBridge } from "./bridge";
import { button, fill, h } from "./dom";
import { executionPanel } from "./execution";
import { recentExecutions } from "./executions";
import { logExplorer } from "./logs";

const app = document.getElementById("app")!;

/** The shown view's live listeners: one subscription to the host, handed to whichever view is shown. */
let listeners: Array<(changes: ExecutionChange[]) => void> = [];

/** In the browser, under its bar on every view: why the integration's last build failed (VS Code says it in its status bar and Problems). */
const buildProblem = h("div", { class: "build-problem", role: "alert", hidden: true });

function showBuild(build: BuildState): void {
  buildProblem.hidden = build.ok;
  if (build.ok) return fill(buildProblem);
  const what = build.versionNumber === 0 ? "No build of the integration serves yet:" : `The integration's last build failed; version ${build.versionNumber} still serves:`;
  fill(buildProblem, h("strong", {}, what), h("pre", {}, build.error ?? ""));
}

function show(host: Bridge, view: View): void {
  listeners = [];
  const bridge: Bridge = { ...host, onExecutions: (listener) => void listeners.push(listener) };
  const root = h("div", { class: `view view-${view.kind}` });
  fill(app, bridge.host === "browser" ? browserBar(bridge, view) : null, buildProblem, root);
  switch (view.kind) {
    case "executions":
      return recentExecutions(root, bridge);
    case "execution":
      return executionPanel(root, bridge, view.id);
    case "logs":
      return logExplorer(root, bridge, view.scope);
    default:
      exhaustive(view);
  }
}

/** The browser's own navigation and its light or dark theme (VS Code gives the webview its theme). */
function browserBar(bridge: Bridge, view: View): HTMLElement {
  const theme = () => document.documentElement.dataset.theme ?? "light";
  return h("nav", { class: "browser-bar", "aria-label": "Refract" },
    h("a", { href: "#/", class: "brand", "aria-current": view.kind === "executions" ? "page" : false }, "Refract"),
    h("a", { href: "#/logs?scope=all", "aria-current": view.kind === "logs" ? "page" : false }, "Logs"),
    h("span", { class: "spacer" }),
    button("", "color-mode", () => {
      const next = theme() === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      localStorage.setItem("refract.theme", next);
    }, { title: "Switch between light and dark", "aria-label": "Switch between light and dark theme" }),
  );
}

function start(): void {
  if (document.documentElement.dataset.host === "vscode") {
    follow(vscodeBridge());
    return;
  }
  document.documentElement.dataset.theme = localStorage.getItem("refract.theme") ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  const token = browserToken();
  if (!token) {
    const input = h("input", { type: "password", "aria-label": "API token", placeholder: "API token" });
    fill(app, h("div", { class: "view signin" },
      h("h1", {}, "Refract"),
      h("p", {}, "Open the link `refract serve` printed (it ends in #token=…), or paste the API token it printed:"),
      h("form", { class: "toolbar", onsubmit: (e: Event) => (e.preventDefault(), (location.hash = `#token=${encodeURIComponent(input.value.trim())}`), location.reload()) }, input, h("button", { type: "submit" }, "Open"))));
    return;
  }
  follow(browserBridge(token));
}

function follow(bridge: Bridge): void {
  bridge.onExecutions((changes) => listeners.forEach((listener) => listener(changes)));
  bridge.onBuild?.(showBuild);
  bridge.onShow((view) => show(bridge, view));
}

start();
