// One time axis for an execution: its wait in the queue, its steps, the executions it invoked, its
// retries and replays, and its log lines as marks coloured by severity.

import type { ExecutionView, LinkedExecution, LogLine } from "../../protocol/prismatic-api/operations";
import { duration, h, timestamp } from "./dom";

export interface TimelineActions {
  selectStep(stepId: string): void;
  openExecution(id: string): void;
  selectLog(logId: string): void;
}

/** Log marks drawn at most; past this every n-th line is drawn (the list has them all). */
const MAX_MARKS = 1500;

export function timeline(x: ExecutionView, logs: LogLine[], actions: TimelineActions): HTMLElement {
  const now = Date.now();
  const end = (iso: string | null) => (iso ? Date.parse(iso) : now);
  const start = Date.parse(x.startedAt);
  const others: Array<[string, LinkedExecution[]]> = [
    ["Invoked", x.invokedExecutions.nodes],
    ["Retries", x.retries.nodes],
    ["Replays", x.replays.nodes],
  ];
  let last = end(x.endedAt);
  for (const s of x.stepResults.nodes) last = Math.max(last, end(s.endedAt));
  for (const [, list] of others) for (const l of list) last = Math.max(last, end(l.endedAt));
  for (const l of logs) last = Math.max(last, Date.parse(l.timestamp));
  const span = Math.max(last - start, 1);
  const at = (t: number) => `${(((t - start) / span) * 100).toFixed(3)}%`;
  const width = (a: number, b: number) => `max(3px, ${(((b - a) / span) * 100).toFixed(3)}%)`;

  const rows: HTMLElement[] = [];
  const row = (label: string, ...bars: HTMLElement[]) => rows.push(h("div", { class: "tl-row" }, h("div", { class: "tl-label" }, label), h("div", { class: "tl-track" }, ...bars)));
  const bar = (a: number, b: number, kind: string, label: string, onClick: (() => void) | null) => {
    const el = h(onClick ? "button" : "span", { class: `tl-bar ${kind}`, title: `${label}: ${duration(b - a)} (${timestamp(a).slice(11)} → ${timestamp(b).slice(11)})`, "aria-label": `${label}, ${duration(b - a)}` }, h("span", { class: "tl-text" }, `${label} ${duration(b - a)}`));
    el.style.left = at(a);
    el.style.width = width(a, b);
    if (onClick) el.addEventListener("click", onClick);
    return el;
  };

  if (x.runStartedAt) row("Queue", bar(start, Date.parse(x.runStartedAt), "tl-queue", "queued", null));
  else row("Queue", bar(start, end(x.endedAt), "tl-queue", "queued", null)); // canceled while queued: it ended there
  for (const s of x.stepResults.nodes) {
    row(s.displayStepName || s.stepName, bar(Date.parse(s.startedAt), end(s.endedAt), s.hasError ? "tl-failed" : "tl-step", s.stepName, () => actions.selectStep(s.id)));
  }
  for (const [label, list] of others) {
    if (!list.length) continue;
    row(label, ...list.map((l) => bar(Date.parse(l.startedAt), end(l.endedAt), `tl-linked status-${l.status.toLowerCase()}`, l.flow?.name ?? l.id, () => actions.openExecution(l.id))));
  }
  if (logs.length) {
    const every = Math.ceil(logs.length / MAX_MARKS);
    const marks = h("div", { class: "tl-marks" });
    for (let i = 0; i < logs.length; i += every) {
      const l = logs[i];
      const mark = h("button", { class: `tl-mark sev-${l.severity.toLowerCase()}`, title: `${l.severity} ${timestamp(l.timestamp).slice(11)}: ${l.message.slice(0, 200)}`, "aria-label": `${l.severity} log line`, "data-log": l.id });
      mark.style.left = at(Date.parse(l.timestamp));
      marks.append(mark);
    }
    marks.addEventListener("click", (e) => {
      const id = (e.target as HTMLElement).dataset.log;
      if (id) actions.selectLog(id);
    });
    rows.push(h("div", { class: "tl-row" }, h("div", { class: "tl-label" }, `Logs (${logs.length})`), h("div", { class: "tl-track" }, marks)));
  }
  const axis = h("div", { class: "tl-axis" }, h("span", {}, "0"), h("span", {}, duration(span / 2)), h("span", {}, duration(span)));
  return h("div", { class: "tl" }, ...rows, h("div", { class: "tl-row" }, h("div", { class: "tl-label" }), axis));
}
