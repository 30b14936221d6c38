import { GraphQLError } from "graphql";

/** Relay pagination arguments, as every connection field of the contract takes them. */
export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  offset?: number | null;
}

export interface Connection<T> {
  nodes: T[];
  edges: Array<{ node: T; cursor: string }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  /** A number, or a function for connections where counting costs a scan (logs): counted only when selected. */
  totalCount: number | (() => Promise<number>);
}

/** The order of a connection: by a primary value, then by id, so that every position is unique. */
export interface Order<T> {
  primary: (t: T) => number | string;
  id: (t: T) => string;
  descending: boolean;
}

type Position = [number | string, string];

/** Largest page of executions, step results and logs; metadata lists are small and come whole. */
export const MAX_PAGE = 1000;

/**
 * Sorts and pages a list. Cursors name a position (primary value and id), not an index, so they
 * stay valid and exclusive while items are added or removed: the tailing clients of
 * prismatic-api/clients.md §2 see each new item once. `after: ""` means no cursor (prism's first
 * page sends it).
 */
export function connection<T>(items: T[], args: PageArgs, order: Order<T>, defaultPage = Infinity): Connection<T> {
  const sign = order.descending ? -1 : 1;
  const compare = (p1: number | string, id1: string, p2: number | string, id2: string) => sign * (p1 < p2 ? -1 : p1 > p2 ? 1 : id1 < id2 ? -1 : id1 > id2 ? 1 : 0);
  const position = (t: T): Position => [order.primary(t), order.id(t)];
  const sorted = items.sort((a, b) => compare(order.primary(a), order.id(a), order.primary(b), order.id(b)));
  let from = 0;
  let to = sorted.length;
  if (args.after) {
    const after = decodeCursor(args.after, "after");
    from = firstIndex(sorted, (t) => compare(order.primary(t), order.id(t), ...after) > 0);
  }
  if (args.before) {
    const before = decodeCursor(args.before, "before");
    to = Math.max(from, firstIndex(sorted, (t) => compare(order.primary(t), order.id(t), ...before) >= 0));
  }
  const window = windowOf(from, to, args, defaultPage);
  const page = sorted.slice(window.from, window.to);
  return build(page, (t) => encodeCursor(position(t)), window.from > 0, window.to < sorted.length, sorted.length);
}

/** Applies offset, first and last to the range [from, to) that the cursors left. */
export function windowOf(from: number, to: number, args: PageArgs, defaultPage: number): { from: number; to: number } {
  const first = count(args.first, "first");
  const last = count(args.last, "last");
  const offset = count(args.offset, "offset") ?? 0;
  from = Math.min(to, from + offset);
  if (first !== null) to = Math.min(to, from + first);
  if (last !== null) from = Math.max(from, to - last);
  if (first === null && last === null) to = Math.min(to, from + defaultPage);
  return { from, to };
}

export function build<T>(page: T[], cursorOf: (t: T) => string, hasPreviousPage: boolean, hasNextPage: boolean, totalCount: Connection<T>["totalCount"]): Connection<T> {
  const edges = page.map((node) => ({ node, cursor: cursorOf(node) }));
  return {
    nodes: page,
    edges,
    pageInfo: { hasNextPage, hasPreviousPage, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount,
  };
}

/** A `first`, `last` or `offset` argument, checked. */
export function count(value: number | null | undefined, name: string): number | null {
  if (value === null || value === undefined) return null;
  if (value < 0) throw new GraphQLError(`${name} must not be negative`);
  if (name !== "offset" && value > MAX_PAGE) throw new GraphQLError(`${name} must be at most ${MAX_PAGE}; page with after and endCursor`);
  return value;
}

/** The index of the first item for which `test` holds, in a list where it holds from some index on. */
function firstIndex<T>(list: T[], test: (t: T) => boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (test(list[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString("base64url");
}

/** A cursor's position; a cursor this API did not hand out is an error, not an empty page. */
export function decodeCursor(cursor: string, name: string): Position {
  try {
    const position = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(position) && position.length === 2 && ["number", "string"].includes(typeof position[0]) && typeof position[1] === "string") return position as Position;
  } catch {
    // reported below
  }
  throw new GraphQLError(`${name}: "${cursor}" is not a cursor of this list`);
}
