// The execution panel: header with lineage and actions, the timeline, the trigger payload, the
// step results and the execution's logs; it follows a running execution live.

import { decode } from "@msgpack/msgpack";
import { CancelExecution, ExecutionLogs, ExecutionPanel, ExecutionView, LinkedExecution, LogLine, ReplayExecution, StepResultSummary } from "../../protocol/prismatic-api/operations";
import type { Bridge } from "./bridge";
import { contentView, jsonView } from "./jsonTree";
import { STATUS_ICONS, button, duration, fill, h, icon, statusBadge, timestamp } from "./dom";
import { timeline } from "./timeline";

/** An execution's logs shown beside its steps; past this the log explorer takes over. */
const MAX_LOGS = 2000;

interface RequestPayload {
  body: string;
  contentType: string | null;
  headers: Record<string, string>;
  queryParameters: Record<string, string>;
  method: string;
  pathFragment: string;
}

export function executionPanel(root: HTMLElement, bridge: Bridge, id: string): void {
  const header = h("header", { class: "execution-header" });
  const timelineBox = h("section", { class: "timeline", "aria-label": "Timeline" });
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Trigger payload and step results" });
  const detail = h("div", { class: "step-detail", role: "tabpanel" });
  const logList = h("ol", { class: "log-lines", "aria-label": "Logs" });
  const logCount = h("span", { class: "muted" });
  const message = h("div", { class: "message", role: "status" });
  fill(root,
    message,
    header,
    timelineBox,
    h("div", { class: "columns" },
      h("section", { class: "steps" }, h("h2", {}, "Data"), tabs, detail),
      h("section", { class: "logs-pane" }, h("h2", {}, "Logs ", logCount), logList)),
  );

  let x: ExecutionView | null = null;
  let logs: LogLine[] = [];
  let logCursor: string | null = null;
  /** The tab shown: "payload" or a step result's id; null until the execution is loaded, then its failed step, else its last. */
  let selected: string | null = null;
  const blobs = new Map<string, Promise<unknown>>();
  /** Whether the message says why the execution could not be loaded (a load clears it); a refused action's stays. */
  let loadProblem = false;
  const problem = (text: string, fromLoad = false) => ((loadProblem = fromLoad), fill(message, h("span", { class: "error" }, text)));

  const load = async () => {
    try {
      const data = await bridge.graphql(ExecutionPanel, { id });
      if (!data.executionResult) return problem(`No execution ${id}: it may have been removed by retention.`, true);
      if (loadProblem) fill(message);
      loadProblem = false;
      x = data.executionResult;
      bridge.title(`${x.flow?.name ?? "Execution"} · ${x.status}`);
      const steps = x.stepResults.nodes;
      selected ??= (steps.find((s) => s.hasError) ?? steps[steps.length - 1])?.id ?? "payload";
      renderHeader(x);
      renderTabs(x);
      renderTimeline();
    } catch (err) {
      problem(`Could not load the execution: ${(err as Error).message}`, true);
    }
  };

  // Pages after the last cursor seen: a running execution's new lines, never the old ones twice.
  // One paging at a time: a live update during the first load pages again after it, from its cursor.
  let paging: Promise<void> | null = null;
  let pageAgain = false;
  let cut = false;
  const pageLogs = async () => {
    for (let more = true; more && !cut; ) {
      const page = await bridge.graphql(ExecutionLogs, { executionResult: id, after: logCursor, first: 500 });
      const lines = page.logs.edges.map((e) => e.node).slice(0, MAX_LOGS - logs.length);
      logs.push(...lines);
      if (page.logs.pageInfo.endCursor) logCursor = page.logs.pageInfo.endCursor;
      more = page.logs.pageInfo.hasNextPage;
      cut = logs.length >= MAX_LOGS && (more || lines.length < page.logs.edges.length);
      appendLogs(lines);
    }
    logCount.textContent = `${logs.length}${cut ? "+" : ""}`;
    renderTimeline();
  };
  const loadLogs = (): Promise<void> => {
    if (paging) {
      pageAgain = true;
      return paging;
    }
    paging = (async () => {
      do {
        pageAgain = false;
        await pageLogs();
      } while (pageAgain);
    })().finally(() => (paging = null));
    return paging;
  };

  function renderHeader(x: ExecutionView) {
    const ran = x.runStartedAt ? Date.parse(x.runStartedAt) : null;
    const ended = x.endedAt ? Date.parse(x.endedAt) : null;
    const link = (label: string, onClick: () => void) => h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), onClick()) }, label);
    const instance = x.instance;
    const meta: Array<[string, Node | string]> = [
      ["Instance", instance ? link(instance.name, () => reveal("instance", instance.id, instance.name)) : "—"],
      ["Customer", instance ? link(instance.customer.name, () => reveal("customer", instance.customer.id, instance.customer.name)) : "—"],
      ["Invoke type", x.invokeType],
      ["Started", timestamp(x.startedAt)],
      ["Queued for", ran ? duration(ran - Date.parse(x.startedAt)) : ended ? `${duration(ended - Date.parse(x.startedAt))} (never ran)` : "still queued"],
      ["Duration", ended ? duration(ended - (ran ?? Date.parse(x.startedAt))) : "running"],
      ["Version", x.versionNumber === null ? "—" : String(x.versionNumber)],
    ];
    const lineage: Array<[string, LinkedExecution[]]> = [
      ["Replay of", x.replayForExecution ? [x.replayForExecution] : []],
      ["Replays", x.replays.nodes],
      ["Invoked by", x.lineage.invokedBy?.execution ? [x.lineage.invokedBy.execution] : []],
      ["Invoked", x.invokedExecutions.nodes],
      ["Retry of", x.retryForExecution ? [x.retryForExecution] : []],
      ["Retries", x.retries.nodes],
    ];
    const running = x.status === "QUEUED" || x.status === "PENDING";
    fill(header,
      h("h1", {}, statusBadge(x.status), " ", x.flow ? link(x.flow.name, () => bridge.open({ kind: "logs", scope: { kind: "flow", id: x.flow!.id, label: x.flow!.name } })) : "(flow removed)"),
      h("dl", { class: "meta" }, ...meta.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      x.error ? h("pre", { class: "execution-error", role: "alert" }, x.error) : null,
      h("nav", { class: "lineage", "aria-label": "Lineage" },
        ...lineage.filter(([, list]) => list.length).map(([label, list]) =>
          h("span", { class: "lineage-group" }, `${label}: `, ...list.map((l) => h("a", { href: "#", class: `status-${l.status.toLowerCase()}`, onclick: (e: Event) => (e.preventDefault(), bridge.open({ kind: "execution", id: l.id })) }, icon(STATUS_ICONS[l.status] ?? "circle"), ` ${l.flow?.name ?? l.id} `, h("span", { class: "muted" }, timestamp(l.startedAt).slice(11)))))),
      ),
      h("div", { class: "toolbar actions" },
        running ? button("Cancel", "debug-stop", () => void cancel()) : button("Replay", "debug-restart", () => void replay(), { title: "Run this flow again with the same trigger payload" }),
        button("Copy ID", "copy", () => void bridge.copy(x.id)),
        button("Open logs", "output", () => bridge.open({ kind: "logs", scope: { kind: "execution", id: x.id, label: `${x.flow?.name ?? "execution"} ${timestamp(x.startedAt).slice(11)}` } })),
        bridge.openDocument && selected && selected !== "payload" ? button("Open as document", "go-to-file", () => bridge.openDocument!("step", selected!), { title: "Open the selected step result as a read-only document" }) : null,
      ),
    );
  }

  function reveal(kind: "instance" | "customer", id: string, label: string) {
    if (bridge.reveal) bridge.reveal(kind, id);
    else bridge.open({ kind: "logs", scope: { kind, id, label } });
  }

  async function replay() {
    const { replayExecution } = await bridge.graphql(ReplayExecution, { id });
    const refused = replayExecution.errors.flatMap((e) => e.messages).join("; ");
    if (refused) return problem(`Replay refused: ${refused}`);
    if (replayExecution.instanceExecutionResult) bridge.open({ kind: "execution", id: replayExecution.instanceExecutionResult.id });
  }

  async function cancel() {
    const { cancelExecution } = await bridge.graphql(CancelExecution, { id });
    const refused = cancelExecution.errors.flatMap((e) => e.messages).join("; ");
    if (refused) problem(`Cancel refused: ${refused}`);
    void load();
  }

  function renderTabs(x: ExecutionView) {
    const steps = x.stepResults.nodes;
    const tab = (key: string, label: string, failed: boolean) =>
      h("button", { type: "button", role: "tab", class: failed ? "failed" : false, "aria-selected": String(key === selected), "data-key": key, onclick: () => select(key) }, failed ? icon("error") : null, label);
    fill(tabs, tab("payload", "Trigger payload", false), ...steps.map((s) => tab(s.id, s.displayStepName || s.stepName, s.hasError)));
    if (detail.dataset.key !== selected) showDetail();
  }

  function select(key: string) {
    selected = key;
    for (const t of tabs.querySelectorAll("[role=tab]")) t.setAttribute("aria-selected", String((t as HTMLElement).dataset.key === key));
    if (x) renderHeader(x);
    showDetail();
  }

  async function showDetail() {
    const key = selected!;
    detail.dataset.key = key;
    fill(detail, h("div", { class: "muted" }, icon("loading"), " Loading…"));
    try {
      const view = key === "payload" ? await payloadView() : await stepView(x!.stepResults.nodes.find((s) => s.id === key)!);
      if (detail.dataset.key === key) {
        fill(detail, view);
        // For bench/ui.ts: when the step result (or payload) is in the page.
        performance.mark("refract:detail-shown");
      }
    } catch (err) {
      if (detail.dataset.key === key) fill(detail, h("div", { class: "error" }, (err as Error).message));
    }
  }

  const fetchOnce = (url: string, read: (bytes: Uint8Array) => unknown) => {
    let p = blobs.get(url);
    if (!p) blobs.set(url, (p = bridge.blob(url).then(read)));
    return p;
  };

  async function payloadView(): Promise<HTMLElement> {
    const p = (await fetchOnce(x!.requestPayloadUrl, (b) => JSON.parse(new TextDecoder().decode(b)))) as RequestPayload;
    const body = Uint8Array.from(atob(p.body), (c) => c.charCodeAt(0));
    const table = (title: string, record: Record<string, string>) =>
      Object.keys(record).length
        ? h("details", { open: true }, h("summary", {}, `${title} (${Object.keys(record).length})`), h("table", { class: "kv" }, ...Object.entries(record).map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, String(v))))))
        : h("div", { class: "muted" }, `No ${title.toLowerCase()}`);
    return h("div", { class: "payload" },
      h("div", { class: "muted" }, `${p.method} ${p.pathFragment ? `/${p.pathFragment}` : ""}`),
      table("Headers", p.headers),
      table("Query parameters", p.queryParameters),
      h("h3", {}, "Body"),
      body.length ? contentView(body, p.contentType ?? undefined, { rootPath: "body", copy: bridge.copy }) : h("div", { class: "muted" }, "Empty body"),
    );
  }

  async function stepView(step: StepResultSummary): Promise<HTMLElement> {
    const result = (await fetchOnce(step.resultsUrl, (b) => decode(b))) as { data: unknown; contentType?: string } | null;
    const took = duration(Date.parse(step.endedAt) - Date.parse(step.startedAt));
    const head = h("div", { class: "muted" }, `${step.stepName} · ${took}${step.hasError ? " · failed" : ""}`);
    if (!result || typeof result !== "object") return h("div", {}, head, jsonView(result, { rootPath: `${step.stepName}.results`, copy: bridge.copy }));
    return h("div", {}, head, result.contentType ? h("div", { class: "muted" }, result.contentType) : null, contentView(result.data, result.contentType, { rootPath: `${step.stepName}.results`, copy: bridge.copy }));
  }

  function appendLogs(lines: LogLine[]) {
    const start = x ? Date.parse(x.startedAt) : 0;
    logList.append(...lines.map((l) =>
      h("li", { class: `log sev-${l.severity.toLowerCase()}`, id: `log-${l.id}`, tabindex: -1 },
        h("span", { class: "log-time", title: timestamp(l.timestamp) }, `+${duration(Date.parse(l.timestamp) - start)}`),
        h("span", { class: "sev" }, l.severity),
        l.stepName ? h("span", { class: "log-step" }, l.stepName) : null,
        h("span", { class: "log-message" }, l.message))));
  }

  function renderTimeline() {
    if (!x) return;
    fill(timelineBox, timeline(x, logs, {
      selectStep: (stepId) => select(stepId),
      openExecution: (other) => bridge.open({ kind: "execution", id: other }),
      selectLog: (logId) => {
        const line = document.getElementById(`log-${logId}`);
        logList.querySelectorAll(".selected").forEach((e) => e.classList.remove("selected"));
        line?.classList.add("selected");
        line?.scrollIntoView({ block: "center" });
        line?.focus();
      },
    }));
  }

  // Live: a running execution's changes reload the panel; new log lines are fetched after the cursor.
  let reload: ReturnType<typeof setTimeout> | null = null;
  let logged = false;
  bridge.onExecutions((changes) => {
    const mine = changes.find((c) => c.id === id);
    const shown = x;
    const related = shown && changes.some((c) => [...shown.replays.nodes, ...shown.retries.nodes, ...shown.invokedExecutions.nodes].some((l) => l.id === c.id));
    if (!mine && !related) return;
    logged ||= Boolean(mine?.logged);
    reload ??= setTimeout(() => {
      reload = null;
      void load().then(() => (logged ? ((logged = false), loadLogs()) : undefined));
    }, 150);
  });

  void load().then(loadLogs).catch((err) => problem((err as Error).message, true));
}
