import { SEVERITIES, Severity } from "../../../protocol/executions";
import { ExecutionRecord, ExecutionStore, LogRecord } from "./executions";
import { eachWindow } from "./lines";
import { SEVERITY, headSeverity, headTime, lineAt, lineHead, readIndex } from "./logIndex";
import type { LogScans } from "./scans";
import { escapeRegExp } from "../escapeRegExp";

/** A log line as stored, with where it is: its day and byte offset are its identity and its cursor. */
export interface StoredLog {
  day: string;
  offset: number;
  record: LogRecord;
}

export interface LogPosition {
  day: string;
  offset: number;
}

/** Which lines a search takes. Every field narrows; none means every line. */
export interface LogFilter {
  /** One execution's lines (read from its stretch of the file, see ExecutionRecord.logs). */
  execution?: ExecutionRecord;
  severities?: Severity[];
  /** Matched case-insensitively against the message. */
  text?: string;
  /** Inclusive, ms since epoch. */
  from?: number;
  to?: number;
  /** Scope filters (instance, customer, flow, …); the execution is undefined for lifecycle hooks' lines. */
  scope?: (line: LineOwner, execution: ExecutionRecord | undefined) => boolean;
}

/** Whose a line is: an execution's, or (for lifecycle hooks) an instance's flow's. */
export type LineOwner = Pick<LogRecord, "executionId" | "instanceId" | "flowId">;

export interface LogScan {
  descending: boolean;
  /** Exclusive bounds in scan order. */
  after?: LogPosition;
  before?: LogPosition;
  /** Stop after this many matches (the page and one more to know whether there is a next page). */
  limit: number;
}

/** A matching line: where it is, its time and severity (read without parsing it), and how to parse it. Valid during its visit only. */
export interface LogHit {
  day: string;
  offset: number;
  at: number;
  severity: Severity;
  /** The whole record (null for a damaged line); valid only during the visit. */
  parse: () => LogRecord | null;
}

/** Time buckets of a histogram: `count` of `width` ms from `from`; the last takes what is later. */
export interface Buckets {
  from: number;
  width: number;
  count: number;
}

/** Counts by bucket and severity: `[bucket * SEVERITIES.length + severity index]`. */
export type DayTally = Float64Array;

/** A filter a scan thread can apply: no scope, no execution (those need the store). */
type ThreadFilter = Pick<LogFilter, "text" | "severities" | "from" | "to">;

/** What a log scan thread tallies: one day's file, the filter, the buckets. */
export interface DayTallyTask {
  kind: "tally";
  day: string;
  file: string;
  size: number;
  index: string;
  filter: ThreadFilter;
  buckets: Buckets;
}

/** A stretch of a day's log file, [start, end), to read. */
interface Stretch {
  day: string;
  file: string;
  start: number;
  end: number;
}

/** What a log scan thread searches for a page: one stretch, in scan order, up to `limit` lines. */
export interface StretchFindTask extends Stretch {
  kind: "find";
  filter: ThreadFilter;
  descending: boolean;
  limit: number;
}

export type ScanTask = DayTallyTask | StretchFindTask;

const DAY_MS = 86_400_000;

/**
 * Searches the per-day `logs.ndjson` files without holding them in memory: days outside the time
 * range are skipped, one execution's lines are read from its stretch, and the rest is read a
 * window at a time (lines.ts), newest or oldest first, stopping as soon as the page is full.
 *
 * Lines are searched as Latin-1 text, where string indexes are byte offsets and decoding is
 * cheapest; an ASCII needle cannot match inside a multi-byte UTF-8 character there. The most
 * selective part of the filter (the text, with a case-insensitive regular expression; the
 * execution id; a single severity) is found across a whole window at once, and each hit's line is
 * checked from its fixed-order head (`{"at":…,"severity":"…","stepName":…,"executionId":…,…,"message":"…"}`)
 * without parsing it. Only lines that are returned are parsed, as UTF-8.
 */
export class LogSearch {
  constructor(
    private readonly store: ExecutionStore,
    /** Threads for text searches; without them, everything is read on this thread. */
    private readonly scans: LogScans | null = null,
  ) {}

  /** The scan threads, for a filter they can apply: a text, and no scope or execution (those need the store). */
  private threadsFor(filter: LogFilter): LogScans | null {
    return filter.text && !filter.scope && !filter.execution ? this.scans : null;
  }

  async find(filter: LogFilter, scan: LogScan): Promise<StoredLog[]> {
    const out: StoredLog[] = [];
    const scans = this.threadsFor(filter);
    if (scans) {
      // On the scan threads, two days at a time: the next day is read while this one's lines are
      // taken; a day read for nothing once the page is full is dropped.
      const stretches = this.stretches(filter, scan);
      const reading: Array<Promise<StoredLog[]>> = [];
      const readNext = async () => {
        const { value } = await stretches.next();
        if (!value) return;
        const lines = scans.find({ kind: "find", ...value, filter: threadFilter(filter), descending: scan.descending, limit: scan.limit });
        lines.catch(() => {}); // a dropped day's failure is nobody's; a taken one's is thrown below
        reading.push(lines);
      };
      await readNext();
      await readNext();
      while (reading.length && out.length < scan.limit) {
        out.push(...(await reading.shift()!).slice(0, scan.limit - out.length));
        if (out.length < scan.limit) await readNext();
      }
      return out;
    }
    await this.each(filter, scan, collect(out, scan.limit));
    return out;
  }

  async count(filter: LogFilter): Promise<number> {
    return (await this.histogram(filter, { from: 0, width: Infinity, count: 1 })).reduce((a, b) => a + b, 0);
  }

  /**
   * The matching lines counted by time bucket and severity, a day at a time: a text search
   * without scope on the scan threads, the rest here.
   */
  async histogram(filter: LogFilter, buckets: Buckets): Promise<DayTally> {
    const counts = new Float64Array(buckets.count * SEVERITIES.length);
    if (filter.execution) {
      await this.each(filter, { descending: false, limit: Infinity }, (hit) => (tallyLine(counts, buckets, hit.at, hit.severity), true));
      return counts;
    }
    const tasks: DayTallyTask[] = [];
    for (const day of this.store.listDays().filter((d) => inRange(d, filter))) {
      const file = await this.store.logFile(day);
      if (file) tasks.push({ kind: "tally", day, ...file, filter: threadFilter(filter), buckets });
    }
    const scans = this.threadsFor(filter);
    let tallies: DayTally[] = [];
    if (scans) {
      tallies = await scans.tally(tasks);
    } else {
      const matcher = new LineMatcher(filter, this.store);
      for (const task of tasks) tallies.push(await tallyDay(task, matcher));
    }
    for (const tally of tallies) for (let i = 0; i < counts.length; i++) counts[i] += tally[i];
    return counts;
  }

  /**
   * The time of the oldest stored line; null when there is none. Lines are stored as they arrive,
   * a few out of time order (two workers, each sending its lines once a tick), so the first line
   * of the first day is not always the oldest: its index (or its lines) is read whole.
   */
  async oldest(): Promise<number | null> {
    for (const day of this.store.listDays()) {
      const file = await this.store.logFile(day);
      if (!file) continue;
      let min = Infinity;
      const lines = await readIndex(file.index, file.size);
      if (lines) {
        for (let i = 0; i < lines.length; i += 2) min = Math.min(min, headTime(lines[i]) || Infinity); // 0: a line Refract did not write
      } else {
        await scanFile(file.file, day, 0, file.size, false, new LineMatcher({}, null), (hit) => ((min = Math.min(min, hit.at)), true));
      }
      if (min < Infinity) return min;
    }
    return null;
  }

  /** Every line of an execution, oldest first. */
  async ofExecution(x: ExecutionRecord): Promise<LogRecord[]> {
    return (await this.find({ execution: x }, { descending: false, limit: Infinity })).map((l) => l.record);
  }

  /** Calls `visit` with each matching line in scan order until it returns false. */
  async each(filter: LogFilter, scan: LogScan, visit: (hit: LogHit) => boolean): Promise<void> {
    const matcher = new LineMatcher(filter, this.store);
    for await (const s of this.stretches(filter, scan)) {
      if (!(await scanFile(s.file, s.day, s.start, s.end, scan.descending, matcher, visit))) return;
    }
  }

  /** The stretches of the day files a scan reads, in its order. */
  private async *stretches(filter: LogFilter, scan: LogScan): AsyncGenerator<Stretch, void> {
    const days = filter.execution ? [filter.execution.day] : this.store.listDays().filter((d) => inRange(d, filter));
    if (scan.descending) days.reverse();
    for (const day of days) {
      if (scan.after && (scan.descending ? day > scan.after.day : day < scan.after.day)) continue;
      if (scan.before && (scan.descending ? day < scan.before.day : day > scan.before.day)) break;
      const file = await this.store.logFile(day);
      if (!file) continue;
      let start = 0;
      let end = file.size;
      if (filter.execution) {
        if (!filter.execution.logs) continue;
        start = filter.execution.logs.offset;
        end = Math.min(end, start + filter.execution.logs.length);
      }
      // A position bounds its own day: lines after (or before) the line at that offset.
      const low = scan.descending ? scan.before : scan.after;
      const high = scan.descending ? scan.after : scan.before;
      if (low?.day === day) start = Math.max(start, low.offset + 1);
      if (high?.day === day) end = Math.min(end, high.offset);
      if (start < end) yield { day, file: file.file, start, end };
    }
  }
}

function threadFilter(filter: LogFilter): ThreadFilter {
  return { text: filter.text, severities: filter.severities, from: filter.from, to: filter.to };
}

function inRange(day: string, filter: LogFilter): boolean {
  const from = Date.parse(`${day}T00:00:00Z`);
  if (filter.from !== undefined && from + DAY_MS <= filter.from) return false;
  if (filter.to !== undefined && from > filter.to) return false;
  return true;
}

/**
 * Tallies one day's matching lines. It reads the day's index (logs.idx): when only time and
 * severity filter (a histogram of everything), the index is all it reads; else it tells the scan
 * where each line begins and ends and its head. `matcher` is the task's filter (with a scope, from
 * the LogSearch that has the store).
 */
export async function tallyDay(task: DayTallyTask, matcher = new LineMatcher(task.filter, null)): Promise<DayTally> {
  const { filter, buckets } = task;
  const counts = new Float64Array(buckets.count * SEVERITIES.length);
  const lines = await readIndex(task.index, task.size);
  if (lines && !filter.text && !matcher.scoped) {
    for (let i = 0; i < lines.length; i += 2) {
      const at = headTime(lines[i]);
      const severity = headSeverity(lines[i]);
      if ((filter.from === undefined || at >= filter.from) && (filter.to === undefined || at <= filter.to) && (!filter.severities || filter.severities.includes(severity))) tallyLine(counts, buckets, at, severity);
    }
  } else {
    await scanFile(task.file, task.day, 0, task.size, false, matcher, (hit) => (tallyLine(counts, buckets, hit.at, hit.severity), true), lines);
  }
  return counts;
}

/** A stretch's matching lines in scan order, up to the task's limit (a scan thread's page search). */
export async function findInStretch(task: StretchFindTask): Promise<StoredLog[]> {
  const out: StoredLog[] = [];
  await scanFile(task.file, task.day, task.start, task.end, task.descending, new LineMatcher(task.filter, null), collect(out, task.limit));
  return out;
}

/** A visitor that keeps the hits' parsed lines in `out` until it holds `limit`. */
function collect(out: StoredLog[], limit: number): (hit: LogHit) => boolean {
  return (hit) => {
    const record = hit.parse();
    if (record) out.push({ day: hit.day, offset: hit.offset, record });
    return out.length < limit;
  };
}

const SEVERITY_NUMBER = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

function tallyLine(counts: DayTally, b: Buckets, at: number, severity: Severity): void {
  counts[Math.min(b.count - 1, Math.floor((at - b.from) / b.width)) * SEVERITIES.length + SEVERITY_NUMBER[severity]]++;
}

/**
 * Visits the matching lines of [start, end) of a day's file; resolves to false once `visit` has had
 * enough. `lines`, the day's index when the caller has it, saves finding lines and their heads.
 */
function scanFile(file: string, day: string, start: number, end: number, descending: boolean, matcher: LineMatcher, visit: (hit: LogHit) => boolean, lines: Float64Array | null = null): Promise<boolean> {
  const hits = new Hits();
  // One hit object for the whole scan (a histogram visits a million lines): valid during its visit.
  let buffer: Buffer;
  let current: Hit;
  const hit: LogHit = { day, offset: 0, at: 0, severity: "INFO", parse: () => parseLine(buffer, current.start, current.end) };
  return eachWindow(file, start, end, descending, (buf, from, to, fileOffset) => {
    buffer = buf;
    hits.length = 0;
    matcher.window(buf, from, to, fileOffset, lines, hits);
    for (let i = 0; i < hits.length; i++) {
      current = hits.items[descending ? hits.length - 1 - i : i];
      hit.offset = fileOffset + current.start - from;
      hit.at = current.at;
      hit.severity = current.severity;
      if (!visit(hit)) return false;
    }
    return true;
  });
}

/** A matching line in the chunk buffer: [start, end) and its head. */
interface Hit {
  start: number;
  end: number;
  at: number;
  severity: Severity;
}

/** One window's matching lines; the objects are reused from window to window. */
class Hits {
  readonly items: Hit[] = [];
  length = 0;

  push(start: number, end: number, at: number, severity: Severity): void {
    const h = (this.items[this.length++] ??= { start, end, at, severity });
    h.start = start;
    h.end = end;
    h.at = at;
    h.severity = severity;
  }
}

const EXECUTION_ID = '"executionId":';
const MESSAGE = '"message":"';

/** The filter applied to windows of whole lines. */
class LineMatcher {
  private readonly severities: Set<string> | null;
  /** The text filter, lower-cased; matched on parsed messages when it is not ASCII. */
  private readonly text: string | null;
  /** For an ASCII text: a case-insensitive expression for its JSON-escaped form, and that form's length. */
  private readonly textPattern: RegExp | null;
  private readonly textLength: number;
  /** A literal every matching line contains (the execution id, a single severity), when there is no text. */
  private readonly literal: string | null;
  private readonly executionId: string | null;

  /** Whether lines are filtered by whose they are (then each line's owner is read). */
  readonly scoped: boolean;

  constructor(
    private readonly filter: LogFilter,
    /** For a scope filter's executions; a scan thread has none (and no scope). */
    private readonly store: ExecutionStore | null,
  ) {
    this.scoped = !!(filter.scope || filter.execution);
    this.severities = filter.severities?.length ? new Set(filter.severities) : null;
    this.text = filter.text ? filter.text.toLowerCase() : null;
    const escaped = this.text && JSON.stringify(this.text).slice(1, -1);
    this.textPattern = escaped && /^[\x00-\x7f]*$/.test(escaped) ? new RegExp(escapeRegExp(escaped), "gi") : null;
    this.textLength = escaped ? escaped.length : 0;
    this.executionId = filter.execution?.id ?? null;
    this.literal = this.executionId ? `${EXECUTION_ID}${JSON.stringify(this.executionId)}` : this.severities?.size === 1 ? `${SEVERITY}${[...this.severities][0]}"` : null;
  }

  /**
   * Appends the matching lines of buf[from, to) (whole lines, starting at `fileOffset` in the
   * file) to `hits`. With the day's index (`lines`), a text hit's line and head come from it.
   */
  window(buf: Buffer, from: number, to: number, fileOffset: number, lines: Float64Array | null, hits: Hits): void {
    const s = buf.toString("latin1", from, to);
    if (this.textPattern) {
      const pattern = this.textPattern;
      pattern.lastIndex = 0;
      let k = lines ? lineAt(lines, fileOffset) : 0;
      while (pattern.test(s)) {
        const match = pattern.lastIndex - this.textLength;
        if (insideEscape(s, match)) {
          pattern.lastIndex = match + 1; // "nbeta" is in the stored `alpha\nbeta`, not in its message
          continue;
        }
        let lineStart: number;
        let lineEnd: number;
        let head: number;
        if (lines) {
          while (lines[2 * k + 1] <= fileOffset + match) k++;
          lineStart = (k ? lines[2 * k - 1] : 0) - fileOffset;
          lineEnd = lines[2 * k + 1] - 1 - fileOffset;
          head = lines[2 * k];
        } else {
          lineStart = s.lastIndexOf("\n", match) + 1;
          lineEnd = endOfLine(s, match);
          head = lineHead(s, lineStart, lineEnd);
        }
        // The text counts in the message, the last field (`…,"message":"<text>"}`), only: a match
        // in the head looks again from the message on; one past the message's end is no match.
        if (head >= 0 && s.lastIndexOf(MESSAGE, match) < lineStart) {
          const message = s.indexOf(MESSAGE, match);
          pattern.lastIndex = message >= 0 && message < lineEnd ? message + MESSAGE.length : lineEnd + 1;
          continue;
        }
        if (head < 0 || pattern.lastIndex <= lineEnd - 2) this.line(buf, s, from, lineStart, lineEnd, head, hits);
        pattern.lastIndex = lineEnd + 1;
      }
    } else if (this.literal && !this.text) {
      for (let hit = s.indexOf(this.literal); hit >= 0; ) {
        const lineStart = s.lastIndexOf("\n", hit) + 1;
        const lineEnd = endOfLine(s, hit);
        this.line(buf, s, from, lineStart, lineEnd, lineHead(s, lineStart, lineEnd), hits);
        hit = s.indexOf(this.literal, lineEnd + 1);
      }
    } else {
      for (let lineStart = 0; lineStart < s.length; ) {
        const lineEnd = endOfLine(s, lineStart);
        if (lineEnd > lineStart) this.line(buf, s, from, lineStart, lineEnd, lineHead(s, lineStart, lineEnd), hits);
        lineStart = lineEnd + 1;
      }
    }
  }

  /**
   * Checks one line (s[lineStart, lineEnd), the window starting at buf[base]) whose head is `head`
   * (lineHead; -1 for a line Refract did not write, which is parsed). An ASCII text has been found
   * in its message already.
   */
  private line(buf: Buffer, s: string, base: number, lineStart: number, lineEnd: number, head: number, hits: Hits): void {
    const f = this.filter;
    const start = base + lineStart;
    const end = base + lineEnd;
    let at: number;
    let severity: Severity;
    let owner: LineOwner | null = null;
    if (head >= 0) {
      at = headTime(head);
      severity = headSeverity(head);
    } else {
      const record = parseLine(buf, start, end);
      if (!record) return;
      ({ at, severity } = record);
      owner = record;
      if (this.text && !record.message.toLowerCase().includes(this.text)) return;
    }
    if (f.from !== undefined && at < f.from) return;
    if (f.to !== undefined && at > f.to) return;
    if (this.severities && !this.severities.has(severity)) return;
    if (this.text && !this.textPattern && head >= 0) {
      if (!/[\x80-\xff]/.test(s.slice(lineStart, lineEnd))) return; // a non-ASCII needle needs non-ASCII bytes
      if (!parseLine(buf, start, end)?.message.toLowerCase().includes(this.text)) return;
    }
    if (this.executionId || f.scope) {
      owner ??= this.owner(buf, s, lineStart, start, end);
      if (!owner) return;
      if (this.executionId && owner.executionId !== this.executionId) return;
      if (f.scope && !f.scope(owner, owner.executionId ? this.store?.executions.get(owner.executionId) : undefined)) return;
    }
    hits.push(start, end, at, severity);
  }

  /** The execution id from the head; lifecycle hooks' lines (no execution) are parsed for their instance and flow. */
  private owner(buf: Buffer, s: string, lineStart: number, start: number, end: number): LineOwner | null {
    const key = s.indexOf(EXECUTION_ID, lineStart) + EXECUTION_ID.length;
    if (s.charCodeAt(key) === 0x22) return { executionId: s.slice(key + 1, s.indexOf('"', key + 1)) };
    return parseLine(buf, start, end);
  }
}

/** A line as UTF-8 JSON; null for a damaged line, which is skipped (as the journal's are). */
function parseLine(buf: Buffer, start: number, end: number): LogRecord | null {
  try {
    return JSON.parse(buf.toString("utf8", start, end));
  } catch {
    return null;
  }
}

const BACKSLASH = 0x5c;

/** Whether s[i] is inside a JSON escape: the character after an escaping backslash, or a hex digit of a `\uXXXX`. */
function insideEscape(s: string, i: number): boolean {
  // A backslash escapes when an even number of backslashes (pairs, `\\`) precede it.
  const escaping = (j: number) => {
    let k = j;
    while (k > 0 && s.charCodeAt(k - 1) === BACKSLASH) k--;
    return (j - k) % 2 === 0;
  };
  if (i > 0 && s.charCodeAt(i - 1) === BACKSLASH && escaping(i - 1)) return true;
  for (let k = 2; k <= 5 && i - k >= 0; k++) {
    if (s.charCodeAt(i - k) === BACKSLASH && s.charCodeAt(i - k + 1) === 0x75 /* u */ && escaping(i - k)) return true;
  }
  return false;
}

function endOfLine(s: string, from: number): number {
  const end = s.indexOf("\n", from);
  return end < 0 ? s.length : end;
}
