// A collapsible JSON tree that stays responsive on large values: children are built only when a
// node opens, and at most CHUNK of them (larger containers open as ranges); search walks the value
// (not the DOM) in slices between frames, and opens the path to each match; one set of row actions
// moves to the row under the pointer or focus. Values are shown as text only.

import { bytes, button, fill, h, icon } from "./dom";

/** Children a node shows at most; more are grouped in ranges. */
const CHUNK = 100;
const MAX_MATCHES = 1000;
/** Search goes this many levels deep: revealing a match opens every level above it, and Chromium's tab dies at about 2,000 nested lists. */
const MAX_SEARCH_DEPTH = 500;
/** A search walks the value this long at a time, then lets the page paint and answer input. */
const SLICE_MS = 8;

/** Each row's node, for the shared row actions and keyboard navigation. */
const nodeOf = new WeakMap<Element, TreeNode>();

type Key = string | number;

export interface TreeOptions {
  /** The path of the root in "copy path", e.g. `onTrigger.results`. */
  rootPath: string;
  copy(text: string): void;
}

/** The tree with its toolbar: search (with next and previous), raw view, expand and collapse. */
export function jsonView(value: unknown, options: TreeOptions): HTMLElement {
  const root = new TreeNode(null, value, options.rootPath, options);
  const treeBox = h("ul", { class: "tree", role: "tree" }, root.element);
  root.open();
  root.element.querySelector<HTMLElement>(".row")!.tabIndex = 0;
  const count = h("span", { class: "muted search-count" });
  let matches: Key[][] = [];
  let current = -1;
  /** Said after the count when the search stopped short of the deepest levels. */
  let note = "";
  const show = (i: number) => {
    if (!matches.length) return;
    current = (i + matches.length) % matches.length;
    count.textContent = `${current + 1} of ${matches.length}${matches.length >= MAX_MATCHES ? "+" : ""}${note}`;
    root.reveal(matches[current])?.select();
  };
  let searching = 0;
  let typing: ReturnType<typeof setTimeout> | null = null;
  const runSearch = async () => {
    const mine = ++searching;
    const text = search.value.trim().toLowerCase();
    treeBox.querySelectorAll(".current").forEach((e) => e.classList.remove("current"));
    matches = [];
    current = -1;
    count.textContent = text ? "searching…" : "";
    if (!text) return;
    const { found, deeper } = await find(value, text, () => mine !== searching);
    if (mine !== searching) return;
    matches = found;
    note = deeper ? ` (not searched past ${MAX_SEARCH_DEPTH} levels: see Raw)` : "";
    count.textContent = matches.length ? "" : `no match${note}`;
    if (matches.length) show(0);
  };
  const search = h("input", {
    type: "search",
    placeholder: "Search keys and values",
    "aria-label": "Search in this value",
    oninput: () => {
      if (typing) clearTimeout(typing);
      typing = setTimeout(() => void runSearch(), 150);
    },
    onkeydown: (e: Event) => {
      if ((e as KeyboardEvent).key !== "Enter") return;
      if (typing) {
        // Enter before the pause: search now.
        clearTimeout(typing);
        typing = null;
        void runSearch();
      } else show(current + ((e as KeyboardEvent).shiftKey ? -1 : 1));
    },
  });
  const raw = h("div", { hidden: true });
  const rawToggle = button("Raw", "json", () => {
    const showRaw = raw.hidden;
    // Built on first use only: a megabyte of text costs a long layout.
    if (showRaw && !raw.firstChild) fill(raw, rawBlock(rawText(value)));
    raw.hidden = !showRaw;
    treeBox.hidden = showRaw;
    rawToggle.setAttribute("aria-pressed", String(showRaw));
  }, { "aria-pressed": "false", title: "Show the value as JSON text" });
  const toolbar = h("div", { class: "toolbar" },
    search, count,
    button("", "arrow-up", () => show(current - 1), { title: "Previous match (Shift+Enter)", "aria-label": "Previous match" }),
    button("", "arrow-down", () => show(current + 1), { title: "Next match (Enter)", "aria-label": "Next match" }),
    rawToggle,
    button("Copy", "copy", () => options.copy(rawText(value)), { title: "Copy the whole value as JSON" }),
  );
  // One set of row actions, moved to the row the pointer or the focus is on.
  let target: TreeNode | null = null;
  const actions = h("span", { class: "row-actions" },
    button("", "copy", () => target && options.copy(rawText(target.value)), { title: "Copy value", "aria-label": "Copy value" }),
    button("", "symbol-field", () => target && options.copy(target.path), { title: "Copy path", "aria-label": "Copy path" }),
  );
  const moveActions = (e: Event) => {
    const row = (e.target as Element).closest?.(".row");
    const node = row && nodeOf.get(row);
    if (!node || node === target || !node.valued) return;
    target = node;
    (actions.lastChild as HTMLElement).title = `Copy path: ${node.path}`;
    row.append(actions);
  };
  treeBox.addEventListener("pointerover", moveActions);
  treeBox.addEventListener("focusin", moveActions);
  // The tree pattern's keys: up and down move between visible rows, right opens, left closes.
  treeBox.addEventListener("keydown", (e) => {
    const row = (e.target as Element).closest(".row");
    const node = row && nodeOf.get(row);
    if (!row || !node) return;
    const rows = [...treeBox.querySelectorAll<HTMLElement>(".row")].filter((r) => r.offsetParent !== null);
    const at = rows.indexOf(row as HTMLElement);
    const moves: Record<string, () => void> = {
      ArrowDown: () => rows[at + 1]?.focus(),
      ArrowUp: () => rows[at - 1]?.focus(),
      ArrowRight: () => node.open(),
      ArrowLeft: () => node.close(),
      Home: () => rows[0]?.focus(),
      End: () => rows[rows.length - 1]?.focus(),
    };
    if (!moves[e.key]) return;
    e.preventDefault();
    moves[e.key]();
  });
  return h("div", { class: "json-view" }, toolbar, treeBox, raw);
}

/**
 * A key and its value, or (for containers with more than CHUNK entries) a range of the entries,
 * as VS Code's debugger groups large arrays: `[0 … 99]`, `[100 … 199]`, and ranges of ranges past
 * 10,000. So no node ever builds more than CHUNK children, wherever a search leads.
 */
class TreeNode {
  readonly element: HTMLLIElement;
  /** A key with its value (a range is not one): it has a value and a path to copy. */
  readonly valued: boolean;
  private list: HTMLUListElement | null = null;
  private children: TreeNode[] = [];
  private toggle: HTMLButtonElement | null = null;
  private row: HTMLElement;

  constructor(
    readonly key: Key | null,
    readonly value: unknown,
    readonly path: string,
    private readonly options: TreeOptions,
    /** The entries of `value` this node shows, when it is a range. */
    private readonly range: { keys: Key[]; from: number; to: number } | null = null,
  ) {
    const container = range !== null || isContainer(value);
    this.valued = range === null;
    this.row = h("div", { class: "row", tabindex: -1 });
    nodeOf.set(this.row, this);
    if (container) {
      this.toggle = h("button", { type: "button", class: "twisty", tabindex: -1, "aria-label": "Expand", onclick: () => (this.list && !this.list.hidden ? this.close() : this.open()) }, icon("chevron-right"));
      this.row.append(this.toggle);
    } else this.row.append(h("span", { class: "twisty-space" }));
    if (range) {
      const label = (k: Key) => (typeof k === "number" ? String(k) : JSON.stringify(k));
      this.row.append(h("span", { class: "v-summary" }, `[${label(range.keys[range.from])} … ${label(range.keys[range.to - 1])}]`));
    } else {
      if (key !== null) this.row.append(h("span", { class: "key" }, typeof key === "number" ? String(key) : key), h("span", { class: "punct" }, ": "));
      this.row.append(preview(value));
    }
    this.element = h("li", { role: "treeitem", "aria-expanded": container ? "false" : false }, this.row);
  }

  open(): void {
    if (!this.toggle) return;
    if (!this.list) {
      this.list = h("ul", { role: "group" });
      this.children = this.build();
      this.list.append(...this.children.map((c) => c.element));
      this.element.append(this.list);
    }
    this.list.hidden = false;
    this.element.setAttribute("aria-expanded", "true");
    this.toggle.classList.add("open");
    this.toggle.setAttribute("aria-label", "Collapse");
  }

  close(): void {
    if (this.list) this.list.hidden = true;
    this.element.setAttribute("aria-expanded", "false");
    this.toggle?.classList.remove("open");
    this.toggle?.setAttribute("aria-label", "Expand");
  }

  /** Opens the path down to a descendant (through ranges) and returns it. */
  reveal(keys: Key[]): TreeNode | null {
    let node: TreeNode | null = this;
    for (const key of keys) {
      node = node.child(key);
      if (!node) return null;
    }
    return node;
  }

  select(): void {
    this.row.closest(".tree")?.querySelectorAll(".current").forEach((e) => e.classList.remove("current"));
    this.row.classList.add("current");
    this.row.scrollIntoView({ block: "nearest" });
  }

  /** The child holding `key`, opening this node and the range on the way. */
  private child(key: Key): TreeNode | null {
    this.open();
    const { keys, from, to } = this.span();
    const index = Array.isArray(this.value) ? Number(key) : keys.indexOf(key);
    if (index < from || index >= to) return null;
    for (const c of this.children) {
      if (c.range) {
        if (index >= c.range.from && index < c.range.to) return c.child(key);
      } else if (c.key === key) return c;
    }
    return null;
  }

  private span(): { keys: Key[]; from: number; to: number } {
    if (this.range) return this.range;
    const keys = Array.isArray(this.value) ? this.value.map((_, i) => i) : Object.keys(this.value as object);
    return { keys, from: 0, to: keys.length };
  }

  private build(): TreeNode[] {
    const { keys, from, to } = this.span();
    const n = to - from;
    const built: TreeNode[] = [];
    if (n > CHUNK) {
      let size = CHUNK;
      while (n / size > CHUNK) size *= CHUNK;
      for (let a = from; a < to; a += size) built.push(new TreeNode(null, this.value, this.path, this.options, { keys, from: a, to: Math.min(to, a + size) }));
      return built;
    }
    for (let i = from; i < to; i++) {
      const key = keys[i];
      built.push(new TreeNode(key, (this.value as Record<Key, unknown>)[key], childPath(this.path, key), this.options));
    }
    return built;
  }
}

function isContainer(value: unknown): value is object {
  return typeof value === "object" && value !== null && !(value instanceof Uint8Array) && !(value instanceof Date);
}

function entries(value: unknown): Key[] {
  return Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value as object);
}

function childPath(path: string, key: Key): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function preview(value: unknown): HTMLElement {
  if (value === null || value === undefined) return h("span", { class: "v-null" }, String(value));
  if (value instanceof Uint8Array) return h("span", { class: "v-binary" }, `binary, ${bytes(value.length)}`);
  if (value instanceof Date) return h("span", { class: "v-string" }, value.toISOString());
  if (Array.isArray(value)) return h("span", { class: "v-summary" }, `[${value.length} ${value.length === 1 ? "item" : "items"}]`);
  switch (typeof value) {
    case "object": {
      const n = Object.keys(value).length;
      return h("span", { class: "v-summary" }, `{${n} ${n === 1 ? "key" : "keys"}}`);
    }
    case "string":
      return h("span", { class: "v-string" }, JSON.stringify(value.length > 2000 ? `${value.slice(0, 2000)}…` : value));
    case "number":
    case "bigint":
      return h("span", { class: "v-number" }, String(value));
    case "boolean":
      return h("span", { class: "v-boolean" }, String(value));
    default:
      return h("span", {}, String(value));
  }
}

/**
 * The paths (as keys from the root) whose key or primitive value contains `text`, walking the value
 * depth first in slices of SLICE_MS; stops early when `cancelled()` says a newer search began.
 */
async function find(value: unknown, text: string, cancelled: () => boolean): Promise<{ found: Key[][]; deeper: boolean }> {
  const found: Key[][] = [];
  let deeper = false;
  if (!isContainer(value)) return { found: String(value).toLowerCase().includes(text) ? [[]] : [], deeper };
  const stack: Array<{ value: object; keys: Key[]; at: number; path: Key[] }> = [{ value, keys: entries(value), at: 0, path: [] }];
  let slice = performance.now();
  while (stack.length && found.length < MAX_MATCHES) {
    if (performance.now() - slice > SLICE_MS) {
      await new Promise((r) => setTimeout(r, 0));
      if (cancelled()) return { found: [], deeper };
      slice = performance.now();
    }
    const top = stack[stack.length - 1];
    if (top.at >= top.keys.length) {
      stack.pop();
      continue;
    }
    const key = top.keys[top.at++];
    const child = (top.value as Record<Key, unknown>)[key];
    const path = [...top.path, key];
    if (typeof key === "string" && key.toLowerCase().includes(text)) found.push(path);
    else if (!isContainer(child) && String(child).toLowerCase().includes(text)) found.push(path);
    if (isContainer(child) && path.length >= MAX_SEARCH_DEPTH) deeper = true;
    else if (isContainer(child)) stack.push({ value: child, keys: entries(child), at: 0, path });
  }
  return { found, deeper };
}

/** JSON text of a value; binary becomes its size (the hex view shows its bytes). */
export function rawText(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? `<binary, ${v.length} bytes>` : typeof v === "bigint" ? v.toString() : v), 2) ?? String(value);
}

/** A value as its content type says: a JSON tree, text, an image, or binary's size and first bytes. */
export function contentView(data: unknown, contentType: string | undefined, options: TreeOptions): HTMLElement {
  const type = (contentType ?? "").toLowerCase();
  if (data instanceof Uint8Array) {
    if (type.startsWith("image/") && SAFE_IMAGES.some((t) => type.startsWith(t))) {
      const url = URL.createObjectURL(new Blob([new Uint8Array(data)], { type }));
      return h("div", { class: "content-image" }, h("img", { src: url, alt: `${type} image, ${bytes(data.length)}` }), h("div", { class: "muted" }, `${type}, ${bytes(data.length)}`));
    }
    if (/^(text\/|application\/(json|xml|javascript)|.*\+(json|xml))/.test(type)) {
      const text = new TextDecoder().decode(data);
      if (type.includes("json")) {
        try {
          return jsonView(JSON.parse(text), options);
        } catch {
          // Not JSON after all: shown as text.
        }
      }
      return textView(text, options);
    }
    return hexView(data, type);
  }
  if (typeof data === "string") {
    if (!type.includes("json")) return textView(data, options);
    try {
      return jsonView(JSON.parse(data), options);
    } catch {
      return textView(data, options);
    }
  }
  return jsonView(data, options);
}

/** SVG is left out: an image that carries script is not shown as an image. */
const SAFE_IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif"];

function textView(text: string, options: TreeOptions): HTMLElement {
  return h("div", { class: "text-view" },
    h("div", { class: "toolbar" }, h("span", { class: "muted" }, `text, ${bytes(new TextEncoder().encode(text).length)}`), button("Copy", "copy", () => options.copy(text))),
    rawBlock(text));
}

/** Characters of text laid out at once: Chromium takes about a second a megabyte, the page frozen meanwhile. */
const RAW_SHOWN = 256 * 1024;

/** Text as is; past RAW_SHOWN characters its start, and the rest on request. */
function rawBlock(text: string): HTMLElement {
  const pre = h("pre", { class: "raw", tabindex: 0 }, text.length > RAW_SHOWN ? text.slice(0, RAW_SHOWN) : text);
  if (text.length <= RAW_SHOWN) return pre;
  const rest = h("div", { class: "toolbar" },
    h("span", { class: "muted" }, `The first ${RAW_SHOWN.toLocaleString("en-US")} of ${text.length.toLocaleString("en-US")} characters (Copy copies all).`),
    button("Show all", "unfold", () => ((pre.textContent = text), rest.remove()), { title: "Lay out all the text: this takes a few seconds a few megabytes" }));
  return h("div", {}, pre, rest);
}

function hexView(data: Uint8Array, type: string): HTMLElement {
  const lines: string[] = [];
  const n = Math.min(data.length, 512);
  for (let i = 0; i < n; i += 16) {
    const row = data.subarray(i, Math.min(i + 16, n));
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  const box = h("div", { class: "hex-view" }, h("div", { class: "muted" }, `${type || "binary"}, ${bytes(data.length)}${data.length > n ? `; the first ${n} bytes:` : ":"}`));
  const pre = h("pre", { class: "raw", tabindex: 0 });
  fill(pre, lines.join("\n"));
  box.append(pre);
  return box;
}
