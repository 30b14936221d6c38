// The log explorer: scope, text, severities, date range and live tail; a histogram of log volume
// stacked by severity (drag across it to narrow the range); and a virtualized list that reads any
// page of the matching lines by position, so 100,000 of them scroll like ten.

import { HistogramBucket, LogFilter, LogPage, LogRow, LogSeverityLevel, LogVolume } from "../../protocol/prismatic-api/operations";
import type { LogScope } from "../../protocol/webview";
import type { Bridge } from "./bridge";
import { SEVERITIES, button, fill, h, svg, timestamp } from "./dom";

const ROW_HEIGHT = 22;
const PAGE = 200;
/** Pages kept in memory; the list asks again for one scrolled back to after that. */
const CACHED_PAGES = 100;
/** Rows beyond the screen kept built on each side, for smooth scrolling. */
const OVERSCAN = 20;
const BUCKETS = 60;
/** Browsers cap an element's height near 33 million pixels. */
const MAX_ROWS = 1_400_000;

const PRESETS = { "15m": 15 * 60_000, "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, all: 0, custom: 0 } as const;
type Preset = keyof typeof PRESETS;

export interface LogState {
  text: string;
  severities: LogSeverityLevel[];
  preset: Preset;
  /** ISO-8601, for the custom range. */
  from: string | null;
  to: string | null;
  showSystem: boolean;
  tail: boolean;
}

const DEFAULT_STATE: LogState = { text: "", severities: [], preset: "all", from: null, to: null, showSystem: true, tail: true };

export function logExplorer(root: HTMLElement, bridge: Bridge, scope: LogScope): void {
  const state: LogState = { ...DEFAULT_STATE, ...bridge.getState<LogState>("logs") };
  const save = () => bridge.setState("logs", state);

  // ---------------------------------------------------------------- filters
  const search = h("input", { type: "search", placeholder: "Search messages", "aria-label": "Search messages", value: state.text });
  let typing: ReturnType<typeof setTimeout> | null = null;
  search.addEventListener("input", () => {
    if (typing) clearTimeout(typing);
    typing = setTimeout(() => ((state.text = search.value), refresh()), 200);
  });
  const severityButtons = SEVERITIES.map((s) =>
    h("button", { type: "button", class: `sev-toggle sev-${s.toLowerCase()}`, "aria-pressed": String(state.severities.includes(s)), onclick: () => toggleSeverity(s) }, s));
  const toggleSeverity = (s: LogSeverityLevel) => {
    state.severities = state.severities.includes(s) ? state.severities.filter((x) => x !== s) : [...state.severities, s];
    severityButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(state.severities.includes(SEVERITIES[i]))));
    refresh();
  };
  const presetButtons = (Object.keys(PRESETS) as Preset[]).filter((p) => p !== "custom").map((p) =>
    h("button", { type: "button", "aria-pressed": String(state.preset === p), "data-preset": p, onclick: () => setRange(p, null, null) }, p === "all" ? "All" : p));
  const fromInput = h("input", { type: "datetime-local", step: "1", "aria-label": "From", onchange: () => setRange("custom", localToIso(fromInput.value), state.to) });
  const toInput = h("input", { type: "datetime-local", step: "1", "aria-label": "To", onchange: () => setRange("custom", state.from, localToIso(toInput.value)) });
  const setRange = (preset: Preset, from: string | null, to: string | null) => {
    Object.assign(state, { preset, from, to });
    presetButtons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.preset === preset)));
    fromInput.value = from ? isoToLocal(from) : "";
    toInput.value = to ? isoToLocal(to) : "";
    refresh();
  };
  fromInput.value = state.from ? isoToLocal(state.from) : "";
  toInput.value = state.to ? isoToLocal(state.to) : "";
  const systemBox = h("input", { type: "checkbox", checked: state.showSystem, onchange: () => ((state.showSystem = systemBox.checked), refresh()) });
  const tailBox = h("input", { type: "checkbox", checked: state.tail, onchange: () => ((state.tail = tailBox.checked), save()) });
  const hidesSystem = scope.kind === "all" || scope.kind === "customer" || scope.kind === "flow";

  const summary = h("span", { class: "muted", role: "status" });
  const histogram = h("div", { class: "histogram", "aria-label": "Log volume over time; drag across it to narrow the range" });
  const list = h("div", { class: "vlist", tabindex: 0, role: "list", "aria-label": "Log lines" });
  const spacer = h("div", { class: "vspacer" });
  const rowsBox = h("div", { class: "vrows" });
  spacer.append(rowsBox);
  list.append(spacer);
  const title = scope.kind === "all" ? "Logs: all instances" : `Logs: ${scope.kind} ${scope.label ?? scope.id ?? ""}`;
  bridge.title(title);
  fill(root,
    h("header", { class: "logs-header" },
      h("h1", {}, title),
      h("div", { class: "toolbar filters" },
        search,
        h("span", { class: "group", role: "group", "aria-label": "Severities" }, ...severityButtons),
        h("span", { class: "group", role: "group", "aria-label": "Time range" }, ...presetButtons, fromInput, "–", toInput),
        hidesSystem ? h("label", {}, systemBox, " System instance") : null,
        h("label", {}, tailBox, " Live tail"),
      ),
      summary),
    histogram,
    h("div", { class: "vheader", "aria-hidden": "true" }, ...["Time", "Severity", "Flow", "Instance", "Step", "Message"].map((c) => h("span", {}, c))),
    // The list is absolutely placed in a box that takes the flex space: so it is a layout boundary
    // (a flex item is not), and a row changing lays out the list, not the page.
    h("div", { class: "vlist-box" }, list),
  );

  // ---------------------------------------------------------------- data
  let generation = 0;
  let total = 0;
  let counted = false;
  const pages = new Map<number, { rows: LogRow[]; startCursor: string | null; endCursor: string | null }>();
  const loading = new Set<number>();
  let active = 0;

  const filter = (): LogFilter => {
    const f: LogFilter = {};
    if (scope.kind === "execution") f.executionResult = scope.id;
    if (scope.kind === "flow") f.flow = scope.id;
    if (scope.kind === "instance") f.instance = scope.id;
    if (scope.kind === "customer") f.customer = scope.id;
    if (hidesSystem && !state.showSystem) f.isTestExecution = false;
    if (state.severities.length && state.severities.length < SEVERITIES.length) f.severities = state.severities;
    if (state.text) f.text = state.text;
    if (state.preset === "custom") {
      f.from = state.from;
      f.to = state.to;
    } else if (PRESETS[state.preset]) f.from = new Date(Date.now() - PRESETS[state.preset]).toISOString();
    return f;
  };

  async function refresh() {
    save();
    // For bench/ui.ts: from the filter change to its first page in the list.
    performance.mark("refract:logs-filter");
    const mine = ++generation;
    const f = filter();
    pages.clear();
    loading.clear();
    wanted.clear();
    for (const row of rowPool) row.dataset.id = "";
    try {
      // The first page first, alone: it is what the user waits for. Then the count and the histogram.
      const first = await bridge.graphql(LogPage, { ...f, offset: 0, first: PAGE, count: false });
      if (mine !== generation) return;
      pages.set(0, { rows: first.logs.nodes, startCursor: first.logs.pageInfo.startCursor, endCursor: first.logs.pageInfo.endCursor });
      counted = first.logs.nodes.length < PAGE;
      setTotal(first.logs.nodes.length);
      summary.textContent = counted ? lineCount(total) : `${PAGE}+ lines, counting…`;
      list.scrollTop = 0;
      render();
      performance.mark("refract:logs-first-page");
      const [count, volume] = await Promise.all([
        counted ? null : bridge.graphql(LogPage, { ...f, offset: 0, first: 0, count: true }),
        bridge.graphql(LogVolume, { ...f, buckets: BUCKETS }),
      ]);
      if (mine !== generation) return;
      if (count) {
        counted = true;
        setTotal(count.logs.totalCount);
        summary.textContent = lineCount(count.logs.totalCount) + (count.logs.totalCount > MAX_ROWS ? ` (the first ${lineCount(MAX_ROWS)} are listed)` : "");
        render();
      }
      drawHistogram(volume.logHistogram);
      performance.mark("refract:logs-settled");
    } catch (err) {
      if (mine === generation) summary.textContent = `Could not read the logs: ${(err as Error).message}`;
    }
  }

  const setTotal = (n: number) => {
    total = Math.min(n, MAX_ROWS);
    spacer.style.height = `${total * ROW_HEIGHT}px`;
    list.setAttribute("aria-rowcount", String(total));
  };

  /**
   * Reads the pages the screen shows once scrolling pauses (a fling does not ask for every page it
   * passes), two at a time. A page next to one already read is asked for by cursor, which the
   * server answers at once; only a jump asks by position.
   */
  let wanted = new Set<number>();
  let fetchTimer: ReturnType<typeof setTimeout> | null = null;
  const want = (p: number) => {
    if (pages.has(p) || loading.has(p)) return;
    wanted.add(p);
    if (fetchTimer) clearTimeout(fetchTimer);
    fetchTimer = setTimeout(fetchWanted, 60);
  };
  function fetchWanted() {
    fetchTimer = null;
    const top = Math.floor(list.scrollTop / ROW_HEIGHT / PAGE);
    const bottom = Math.floor((list.scrollTop + list.clientHeight) / ROW_HEIGHT / PAGE);
    // Only what is still on screen (and the page after it); the rest was scrolled past.
    const next = [...wanted].filter((p) => p >= top - 1 && p <= bottom + 1).slice(0, 2 - loading.size);
    wanted = new Set([...wanted].filter((p) => p >= top - 1 && p <= bottom + 1 && !next.includes(p)));
    for (const p of next) void loadPage(p).then(() => wanted.size && fetchWanted());
  }

  async function loadPage(p: number) {
    loading.add(p);
    const mine = generation;
    const previous = pages.get(p - 1)?.endCursor;
    const following = pages.get(p + 1)?.startCursor;
    const position = previous ? { after: previous, first: PAGE } : following ? { before: following, last: PAGE } : { offset: p * PAGE, first: PAGE };
    try {
      const { logs } = await bridge.graphql(LogPage, { ...filter(), ...position, count: false });
      if (mine !== generation) return;
      pages.set(p, { rows: logs.nodes, startCursor: logs.pageInfo.startCursor, endCursor: logs.pageInfo.endCursor });
      if (pages.size > CACHED_PAGES) pages.delete(pages.keys().next().value!);
      render();
    } finally {
      if (mine === generation) loading.delete(p);
    }
  }

  // ---------------------------------------------------------------- the virtualized list
  // Each row is placed at its own offset and recycled by index (row k lives in pool[k % pool size]),
  // so scrolling rewrites only the rows that come into view; the others do not change or repaint.
  const rowPool: HTMLElement[] = [];
  let frame = 0;
  list.addEventListener("scroll", () => (frame ||= requestAnimationFrame(() => ((frame = 0), render()))));
  new ResizeObserver(() => render()).observe(list);

  function render() {
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((list.scrollTop + list.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const size = Math.ceil(list.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN + 1;
    while (rowPool.length < size) {
      const row = h("div", { class: "vrow", role: "listitem", hidden: true }, h("span", { class: "c-time" }), h("span", { class: "c-sev" }), h("span", { class: "c-flow" }), h("span", { class: "c-instance" }), h("span", { class: "c-step" }), h("span", { class: "c-message" }));
      row.addEventListener("click", () => openRow(Number(row.dataset.index)));
      rowPool.push(row);
      rowsBox.append(row);
    }
    const shown = new Set<HTMLElement>();
    for (let index = first; index < last; index++) {
      const row = rowPool[index % size];
      shown.add(row);
      const line = pages.get(Math.floor(index / PAGE))?.rows[index % PAGE];
      if (!line) want(Math.floor(index / PAGE));
      const id = line?.id ?? `empty-${index}`;
      row.classList.toggle("active", index === active);
      if (row.dataset.id === id && !row.hidden) continue;
      row.hidden = false;
      row.dataset.index = String(index);
      row.dataset.id = id;
      row.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
      row.className = `vrow${line ? ` sev-${line.severity.toLowerCase()}` : " loading"}${index === active ? " active" : ""}`;
      const cells = row.children;
      cells[0].textContent = line ? timestamp(line.timestamp) : "…";
      cells[1].textContent = line?.severity ?? "";
      cells[2].textContent = line?.flowName ?? "";
      cells[3].textContent = line?.instanceName ?? "";
      cells[4].textContent = line?.stepName ?? "";
      cells[5].textContent = line?.message ?? "";
      (cells[5] as HTMLElement).title = line?.message.slice(0, 2000) ?? "";
    }
    for (const row of rowPool) if (!shown.has(row) && !row.hidden) row.hidden = true;
  }

  function openRow(index: number) {
    const line = pages.get(Math.floor(index / PAGE))?.rows[index % PAGE];
    if (line?.executionResultId) bridge.open({ kind: "execution", id: line.executionResultId });
  }

  list.addEventListener("keydown", (e) => {
    const visible = Math.max(1, Math.floor(list.clientHeight / ROW_HEIGHT));
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: visible, PageUp: -visible, Home: -Infinity, End: Infinity };
    if (e.key === "Enter") return openRow(active);
    if (!(e.key in moves)) return;
    e.preventDefault();
    active = Math.max(0, Math.min(total - 1, active + moves[e.key]));
    if (active * ROW_HEIGHT < list.scrollTop) list.scrollTop = active * ROW_HEIGHT;
    else if ((active + 1) * ROW_HEIGHT > list.scrollTop + list.clientHeight) list.scrollTop = (active + 1) * ROW_HEIGHT - list.clientHeight;
    render();
  });

  // ---------------------------------------------------------------- the histogram
  function drawHistogram(buckets: HistogramBucket[]) {
    if (!buckets.length) return fill(histogram, h("div", { class: "muted" }, "No log lines in this range"));
    const max = Math.max(1, ...buckets.map((b) => b.counts.reduce((n, c) => n + c.count, 0)));
    const w = 10;
    const chart = svg("svg", { viewBox: `0 0 ${buckets.length * w} 100`, preserveAspectRatio: "none", class: "histogram-chart", role: "img", "aria-label": "Log volume by severity" });
    buckets.forEach((b, i) => {
      let y = 100;
      const counts = SEVERITIES.map((s) => [s, b.counts.find((c) => c.severity === s)?.count ?? 0] as const).filter(([, n]) => n);
      for (const [s, n] of counts) {
        const height = (n / max) * 96;
        y -= height;
        chart.append(svg("rect", { x: i * w + 1, y, width: w - 2, height, class: `bar sev-${s.toLowerCase()}` }));
      }
      const hover = svg("rect", { x: i * w, y: 0, width: w, height: 100, class: "bucket" });
      const tip = svg("title", {});
      tip.textContent = `${timestamp(b.start)} → ${timestamp(b.end)}\n${counts.map(([s, n]) => `${s} ${n}`).join(", ") || "no lines"}`;
      hover.append(tip);
      chart.append(hover);
    });
    const brush = svg("rect", { x: 0, y: 0, width: 0, height: 100, class: "brush" });
    chart.append(brush);
    // Dragging across buckets narrows the range to them (a click is one bucket).
    let from: number | null = null;
    const bucketAt = (e: PointerEvent) => {
      const r = chart.getBoundingClientRect();
      return Math.max(0, Math.min(buckets.length - 1, Math.floor(((e.clientX - r.left) / r.width) * buckets.length)));
    };
    chart.addEventListener("pointerdown", (e) => {
      from = bucketAt(e);
      chart.setPointerCapture(e.pointerId);
    });
    chart.addEventListener("pointermove", (e) => {
      if (from === null) return;
      const to = bucketAt(e);
      brush.setAttribute("x", String(Math.min(from, to) * w));
      brush.setAttribute("width", String((Math.abs(to - from) + 1) * w));
    });
    chart.addEventListener("pointerup", (e) => {
      if (from === null) return;
      const to = bucketAt(e);
      const [a, b] = [Math.min(from, to), Math.max(from, to)];
      from = null;
      setRange("custom", buckets[a].start, buckets[b].end);
    });
    fill(histogram, chart, h("div", { class: "histogram-axis" }, h("span", {}, timestamp(buckets[0].start)), h("span", {}, timestamp(buckets[buckets.length - 1].end))));
  }

  // ---------------------------------------------------------------- live tail
  let tailTimer: ReturnType<typeof setTimeout> | null = null;
  bridge.onExecutions((changes) => {
    if (!state.tail || state.preset === "custom" || !changes.some((c) => c.logged && inScope(c))) return;
    tailTimer ??= setTimeout(() => {
      tailTimer = null;
      // Newest first: new lines arrive at the top; a reader scrolled down keeps their place.
      if (list.scrollTop < ROW_HEIGHT) void refresh();
    }, 1000);
  });
  const inScope = (c: { id: string; flowId: string; instanceId: string; customerId: string }) =>
    scope.kind === "all" || (scope.kind === "execution" ? c.id : scope.kind === "flow" ? c.flowId : scope.kind === "instance" ? c.instanceId : c.customerId) === scope.id;

  void refresh();
}

function lineCount(n: number): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? "line" : "lines"}`;
}

/** `<input type=datetime-local>` speaks local time without a zone. */
function isoToLocal(iso: string): string {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}

function localToIso(local: string): string | null {
  return local ? new Date(local).toISOString() : null;
}
