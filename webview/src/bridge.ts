// The UI's only way out: a small typed bridge with one implementation per host (protocol/webview.ts).
// In VS Code every call is a postMessage to the extension; in a browser at /ui the bridge calls
// /api, the signed blob URLs and /events itself, with the token the page got from its URL fragment.

import type { TypedDocumentString } from "graphql-request";
import type { BuildState, ExecutionChange } from "../../protocol/lsp";
import { EVENT_BUILD, EVENT_EXECUTIONS, HostMessage, HostRequest, View, WebviewMessage } from "../../protocol/webview";

export interface Bridge {
  readonly host: "vscode" | "browser";
  graphql<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<R>;
  blob(url: string): Promise<Uint8Array>;
  /** Executions that changed (live updates). */
  onExecutions(listener: (changes: ExecutionChange[]) => void): void;
  /** Browser only: the build state, now and after each build (VS Code shows it in its status bar and Problems). */
  onBuild?(listener: (build: BuildState) => void): void;
  /** The host asks to show a view (VS Code reuses a panel; the browser follows its address). */
  onShow(listener: (view: View) => void): void;
  open(view: View): void;
  /** What the panel shows, for its tab or window title. */
  title(text: string): void;
  copy(text: string): Promise<void>;
  /** VS Code only: show an instance or customer in the trees, a step result or logs as a document. */
  reveal?(kind: "instance" | "customer", id: string): void;
  openDocument?(kind: "step" | "logs", id: string): void;
  /** What a panel keeps across closing and reopening (the log explorer's filters). */
  getState<T>(key: string): T | undefined;
  setState(key: string, state: unknown): void;
}

declare function acquireVsCodeApi(): { postMessage(message: WebviewMessage): void; getState(): unknown; setState(state: unknown): void };

export function vscodeBridge(): Bridge {
  const vscode = acquireVsCodeApi();
  const pending = new Map<number, { resolve: (data: unknown) => void; reject: (error: Error) => void }>();
  const executions: Array<(changes: ExecutionChange[]) => void> = [];
  const shows: Array<(view: View) => void> = [];
  let seq = 0;
  let states = (vscode.getState() ?? {}) as Record<string, unknown>;
  window.addEventListener("message", (event: MessageEvent<HostMessage>) => {
    const message = event.data;
    switch (message.type) {
      case "response": {
        const call = pending.get(message.seq);
        pending.delete(message.seq);
        if (message.ok) call?.resolve(message.data);
        else call?.reject(new Error(message.error));
        break;
      }
      case "executions":
        for (const listener of executions) listener(message.changes);
        break;
      case "show":
        // The extension keeps the last state of each kind of panel, so it outlives the panel.
        if (message.state) states = { ...message.state, ...states };
        for (const listener of shows) listener(message.view);
        break;
      default:
        exhaustive(message);
    }
  });
  const request = (r: HostRequest) =>
    new Promise<unknown>((resolve, reject) => {
      pending.set(++seq, { resolve, reject });
      vscode.postMessage({ type: "request", seq, request: r });
    });
  const bridge: Bridge = {
    host: "vscode",
    graphql: (document, variables) => request({ kind: "graphql", query: String(document), variables: variables as Record<string, unknown> }) as Promise<never>,
    blob: async (url) => (await request({ kind: "blob", url })) as Uint8Array,
    onExecutions: (listener) => void executions.push(listener),
    onShow: (listener) => {
      shows.push(listener);
      if (shows.length === 1) vscode.postMessage({ type: "ready" });
    },
    open: (view) => vscode.postMessage({ type: "open", view }),
    title: (title) => vscode.postMessage({ type: "title", title }),
    copy: async (text) => vscode.postMessage({ type: "copy", text }),
    reveal: (kind, id) => vscode.postMessage({ type: "reveal", kind, id }),
    openDocument: (kind, id) => vscode.postMessage({ type: "openDocument", kind, id }),
    getState: <T>(key: string) => states[key] as T | undefined,
    setState: (key, state) => {
      states = { ...states, [key]: state };
      vscode.setState(states);
      vscode.postMessage({ type: "state", key, state });
    },
  };
  return bridge;
}

const TOKEN_KEY = "refract.token";

/** The API token: from the fragment of the link `refract serve` printed (then dropped from the address), else from this tab's session. */
export function browserToken(): string | null {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  const given = match && decoded(match[1]);
  if (match) {
    if (given) sessionStorage.setItem(TOKEN_KEY, given); // a cut or hand-edited link: the page asks for it
    history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function browserBridge(token: string): Bridge {
  const executions: Array<(changes: ExecutionChange[]) => void> = [];
  const builds: Array<(build: BuildState) => void> = [];
  const shows: Array<() => void> = [];
  // One stream for both kinds of event, opened by the first listener of either.
  let following = false;
  const startFollowing = () => {
    if (following) return;
    following = true;
    // What changed while the stream was down was not sent: the view loads again.
    void follow(token, {
      executions: (changes) => executions.forEach((l) => l(changes)),
      build: (build) => builds.forEach((l) => l(build)),
      reconnected: () => shows.forEach((show) => show()),
    });
  };
  const bridge: Bridge = {
    host: "browser",
    async graphql(document, variables) {
      const res = await fetch("/api", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: String(document), variables }),
      });
      if (res.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        throw new Error("The API token was refused: open the link `refract serve` printed");
      }
      const json = (await res.json()) as { data?: unknown; errors?: Array<{ message: string }> };
      if (json.errors?.length) throw new Error(json.errors.map((e) => e.message).join("; "));
      return json.data as never;
    },
    async blob(url) {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${res.status} ${res.statusText} fetching ${url}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    onExecutions(listener) {
      executions.push(listener);
      startFollowing();
    },
    onBuild(listener) {
      builds.push(listener);
      startFollowing();
    },
    onShow(listener) {
      const show = () => listener(viewOf(location.hash));
      shows.push(show);
      window.addEventListener("hashchange", show);
      show();
    },
    open(view) {
      location.hash = hashOf(view);
    },
    title: (text) => void (document.title = `${text} · Refract`),
    copy: (text) => navigator.clipboard.writeText(text),
    getState: <T>(key: string) => {
      const text = sessionStorage.getItem(`refract.state.${key}`);
      return text ? (JSON.parse(text) as T) : undefined;
    },
    setState: (key, state) => sessionStorage.setItem(`refract.state.${key}`, JSON.stringify(state)),
  };
  return bridge;
}

interface EventHandlers {
  executions(changes: ExecutionChange[]): void;
  build(build: BuildState): void;
  /** The stream is back after a drop. */
  reconnected(): void;
}

/** Reads `/events` (server-sent events) with the bearer token, reconnecting after a drop. */
async function follow(token: string, on: EventHandlers): Promise<void> {
  let connected = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch("/events", { headers: { authorization: `Bearer ${token}` } });
      if (res.status === 401) return;
      if (!res.ok || !res.body) throw new Error(`/events answered ${res.status}`);
      attempt = 0;
      if (connected) on.reconnected();
      connected = true;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (event === EVENT_EXECUTIONS && data) on.executions((JSON.parse(data) as { changes: ExecutionChange[] }).changes);
          if (event === EVENT_BUILD && data) on.build(JSON.parse(data) as BuildState);
        }
      }
    } catch {
      // The server restarted or the network dropped: try again, slower each time.
    }
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 10_000)));
  }
}

/** `#/`, `#/execution/<id>`, `#/logs?scope=<kind>&id=…&label=…`. */
export function hashOf(view: View): string {
  switch (view.kind) {
    case "executions":
      return "#/";
    case "execution":
      return `#/execution/${encodeURIComponent(view.id)}`;
    case "logs": {
      const q = new URLSearchParams({ scope: view.scope.kind });
      if (view.scope.id) q.set("id", view.scope.id);
      if (view.scope.label) q.set("label", view.scope.label);
      return `#/logs?${q}`;
    }
    default:
      return exhaustive(view);
  }
}

function viewOf(hash: string): View {
  const execution = /^#\/execution\/([^/?]+)$/.exec(hash);
  if (execution) return { kind: "execution", id: decoded(execution[1]) ?? execution[1] };
  if (hash.startsWith("#/logs")) {
    const q = new URLSearchParams(hash.slice(hash.indexOf("?") + 1));
    const kind = q.get("scope");
    const scope = kind === "customer" || kind === "instance" || kind === "flow" || kind === "execution" ? kind : "all";
    return { kind: "logs", scope: { kind: scope, id: q.get("id") ?? undefined, label: q.get("label") ?? undefined } };
  }
  return { kind: "executions" };
}

export function exhaustive(value: never): never {
  throw new Error(`Unexpected ${JSON.stringify(value)}`);
}

/** A percent-decoded part of the address; null when it is not valid percent-encoding. */
function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
