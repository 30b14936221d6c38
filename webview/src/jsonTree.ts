// A collapsible JSON tree that stays responsive on large values: children are built only when a
// node opens, and at most PAGE at a time; search walks the value, not the DOM, and opens the path
// to each match. Values are shown as text only.

import { bytes, button, fill, h, icon } from "./dom";

const PAGE = 200;
const MAX_MATCHES = 1000;

type Key = string | number;

export interface TreeOptions {
  /** The path of the root in "copy path", e.g. `onTrigger.results`. */
  rootPath: string;
  copy(text: string): void;
}

/** The tree with its toolbar: search (with next and previous), raw view, expand and collapse. */
export function jsonView(value: unknown, options: TreeOptions): HTMLElement {
  const root = new TreeNode(null, null, value, options.rootPath, options);
  const treeBox = h("ul", { class: "tree", role: "tree" }, root.element);
  root.open();
  const count = h("span", { class: "muted search-count" });
  let matches: Key[][] = [];
  let current = -1;
  const show = (i: number) => {
    if (!matches.length) return;
    current = (i + matches.length) % matches.length;
    count.textContent = `${current + 1} of ${matches.length}${matches.length >= MAX_MATCHES ? "+" : ""}`;
    root.reveal(matches[current])?.select();
  };
  const search = h("input", {
    type: "search",
    placeholder: "Search keys and values",
    "aria-label": "Search in this value",
    oninput: () => {
      const text = search.value.trim().toLowerCase();
      treeBox.querySelectorAll(".current").forEach((e) => e.classList.remove("current"));
      matches = text ? find(value, text) : [];
      count.textContent = text ? (matches.length ? "" : "no match") : "";
      if (matches.length) show(0);
    },
    onkeydown: (e: Event) => {
      if ((e as KeyboardEvent).key === "Enter") show(current + ((e as KeyboardEvent).shiftKey ? -1 : 1));
    },
  });
  const raw = h("pre", { class: "raw", hidden: true, tabindex: 0 });
  const rawToggle = button("Raw", "json", () => {
    const showRaw = raw.hidden;
    // Built on first use only: a megabyte of text costs a long layout.
    if (showRaw && !raw.textContent) raw.textContent = rawText(value);
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
  return h("div", { class: "json-view" }, toolbar, treeBox, raw);
}

class TreeNode {
  readonly element: HTMLLIElement;
  private list: HTMLUListElement | null = null;
  private children = new Map<Key, TreeNode>();
  private shown = 0;
  private toggle: HTMLButtonElement | null = null;
  private row: HTMLElement;

  constructor(
    private readonly parent: TreeNode | null,
    readonly key: Key | null,
    readonly value: unknown,
    readonly path: string,
    private readonly options: TreeOptions,
  ) {
    const container = isContainer(value);
    this.row = h("div", { class: "row" });
    if (container) {
      this.toggle = h("button", { type: "button", class: "twisty", "aria-label": "Expand", onclick: () => (this.list && !this.list.hidden ? this.close() : this.open()) }, icon("chevron-right"));
      this.row.append(this.toggle);
    } else this.row.append(h("span", { class: "twisty-space" }));
    if (key !== null) this.row.append(h("span", { class: "key" }, typeof key === "number" ? String(key) : key), h("span", { class: "punct" }, ": "));
    this.row.append(preview(value));
    this.row.append(
      h("span", { class: "row-actions" },
        button("", "copy", () => options.copy(rawText(value)), { title: "Copy value", "aria-label": "Copy value" }),
        button("", "symbol-field", () => options.copy(path), { title: `Copy path: ${path}`, "aria-label": "Copy path" }),
      ),
    );
    this.element = h("li", { role: "treeitem", "aria-expanded": container ? "false" : false }, this.row);
  }

  open(): void {
    if (!isContainer(this.value)) return;
    if (!this.list) {
      this.list = h("ul", { role: "group" });
      this.element.append(this.list);
      this.more(PAGE);
    }
    this.list.hidden = false;
    this.element.setAttribute("aria-expanded", "true");
    this.toggle?.classList.add("open");
    this.toggle?.setAttribute("aria-label", "Collapse");
  }

  close(): void {
    if (this.list) this.list.hidden = true;
    this.element.setAttribute("aria-expanded", "false");
    this.toggle?.classList.remove("open");
    this.toggle?.setAttribute("aria-label", "Expand");
  }

  /** Opens the path down to a descendant and returns it. */
  reveal(keys: Key[]): TreeNode | null {
    let node: TreeNode = this;
    for (const key of keys) {
      node.open();
      const child = node.child(key);
      if (!child) return null;
      node = child;
    }
    return node;
  }

  select(): void {
    this.row.closest(".tree")?.querySelectorAll(".current").forEach((e) => e.classList.remove("current"));
    this.row.classList.add("current");
    this.row.scrollIntoView({ block: "center" });
  }

  private child(key: Key): TreeNode | null {
    const keys = entries(this.value);
    const index = Array.isArray(this.value) ? Number(key) : keys.indexOf(key);
    if (index < 0) return null;
    if (index >= this.shown) this.more(index + 1 - this.shown + PAGE);
    return this.children.get(key) ?? null;
  }

  /** Builds up to `n` more children, with a "show more" button while some are left. */
  private more(n: number): void {
    const list = this.list!;
    list.querySelector(":scope > .more")?.remove();
    const keys = entries(this.value);
    const end = Math.min(keys.length, this.shown + n);
    const items: HTMLElement[] = [];
    for (let i = this.shown; i < end; i++) {
      const key = keys[i];
      const child = new TreeNode(this, key, (this.value as Record<Key, unknown>)[key], childPath(this.path, key), this.options);
      this.children.set(key, child);
      items.push(child.element);
    }
    list.append(...items);
    this.shown = end;
    if (end < keys.length) {
      list.append(h("li", { class: "more" }, button(`Show ${Math.min(PAGE, keys.length - end)} more (${keys.length - end} left)`, "ellipsis", () => this.more(PAGE))));
    }
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

/** The paths (as keys from the root) whose key or primitive value contains `text`. */
function find(value: unknown, text: string): Key[][] {
  const found: Key[][] = [];
  const walk = (v: unknown, keys: Key[]) => {
    if (found.length >= MAX_MATCHES) return;
    if (isContainer(v)) {
      for (const key of entries(v)) {
        const child = (v as Record<Key, unknown>)[key];
        const path = [...keys, key];
        if (typeof key === "string" && key.toLowerCase().includes(text)) found.push(path);
        else if (!isContainer(child) && String(child).toLowerCase().includes(text)) found.push(path);
        walk(child, path);
      }
    }
  };
  if (!isContainer(value) && String(value).toLowerCase().includes(text)) found.push([]);
  walk(value, []);
  return found;
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
    h("pre", { class: "raw", tabindex: 0 }, text));
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
