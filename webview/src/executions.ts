// The browser's home page: recent executions, newest first, live, each opening its panel.

import { ExecutionSummary, RecentExecutions } from "../../protocol/prismatic-api/operations";
import type { Bridge } from "./bridge";
import { button, duration, fill, h, relative, statusBadge } from "./dom";

const PAGE = 50;
/** The most the API gives in one page. */
const MAX_PAGE = 1000;

export function recentExecutions(root: HTMLElement, bridge: Bridge): void {
  const body = h("tbody");
  const more = h("div", { class: "toolbar" });
  const message = h("div", { class: "message", role: "status" });
  fill(root,
    h("header", {},
      h("h1", {}, "Executions"),
      h("div", { class: "toolbar" }, button("All logs", "output", () => bridge.open({ kind: "logs", scope: { kind: "all" } })))),
    message,
    h("table", { class: "executions" },
      h("thead", {}, h("tr", {}, ...["Status", "Flow", "Instance", "Invoke type", "Started", "Duration"].map((c) => h("th", { scope: "col" }, c)))),
      body),
    more);

  let shown: ExecutionSummary[] = [];
  let cursor: string | null = null;
  const row = (x: ExecutionSummary) => {
    const open = () => bridge.open({ kind: "execution", id: x.id });
    return h("tr", { tabindex: 0, class: "clickable", onclick: open, onkeydown: (e: Event) => (e as KeyboardEvent).key === "Enter" && open() },
      h("td", {}, statusBadge(x.status)),
      h("td", {}, h("a", { href: `#/execution/${encodeURIComponent(x.id)}` }, x.flow?.name ?? "(flow removed)")),
      h("td", {}, x.instance?.name ?? ""),
      h("td", {}, x.invokeType),
      h("td", { title: x.startedAt }, relative(x.startedAt)),
      h("td", {}, x.endedAt ? duration(Date.parse(x.endedAt) - Date.parse(x.startedAt)) : ""));
  };
  const load = async (first: number, after: string | null) => {
    try {
      const { executionResults } = await bridge.graphql(RecentExecutions, { first, after });
      const { nodes, pageInfo } = executionResults;
      // A refresh reads at most a page of 1,000: rows shown past those stay as they were.
      const last = nodes.length ? shown.findIndex((x) => x.id === nodes.at(-1)!.id) : -1;
      const kept = !after && last >= 0 ? shown.slice(last + 1) : [];
      shown = after ? [...shown, ...nodes] : [...nodes, ...kept];
      if (after || !kept.length) {
        cursor = pageInfo.endCursor;
        fill(more, pageInfo.hasNextPage ? button("Load more", "fold-down", () => void load(PAGE, cursor)) : null);
      }
      fill(body, ...shown.map(row));
      fill(message, shown.length ? null : "No executions yet: trigger a flow with its webhook URL (`refract serve` prints them).");
    } catch (err) {
      fill(message, h("span", { class: "error" }, (err as Error).message));
    }
  };
  let timer: ReturnType<typeof setTimeout> | null = null;
  bridge.onExecutions(() => {
    // The same rows, refreshed: as many as are shown (up to the API's 1,000 a page), at least a page.
    timer ??= setTimeout(() => ((timer = null), void load(Math.min(MAX_PAGE, Math.max(PAGE, shown.length)), null)), 300);
  });
  void load(PAGE, null);
}
