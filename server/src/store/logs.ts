import * as fs from "node:fs";
import { Severity } from "../../../protocol/executions";
import { ExecutionRecord, ExecutionStore, LogRecord } from "./executions";

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
  scope?: (line: LogRecord, execution: ExecutionRecord | undefined) => boolean;
}

export interface LogScan {
  descending: boolean;
  /** Exclusive bounds in scan order. */
  after?: LogPosition;
  before?: LogPosition;
  /** Stop after this many matches (the page and one more to know whether there is a next page). */
  limit: number;
}

const CHUNK_BYTES = 4 * 1024 * 1024;
const DAY_MS = 86_400_000;

/**
 * Searches the per-day `logs.ndjson` files without holding them in memory: days outside the time
 * range are skipped, one execution's lines are read from its stretch, and the rest is read in
 * 4 MB chunks, newest or oldest first, stopping as soon as the page is full. In a chunk the most
 * selective part of the filter (the text, the execution id, a single severity) is found with one
 * `indexOf` over the whole chunk, and only the lines it hits are parsed; without one, each line's
 * time, severity and execution are read from its fixed-order head without parsing it.
 */
export class LogSearch {
  constructor(private readonly store: ExecutionStore) {}

  async find(filter: LogFilter, scan: LogScan): Promise<StoredLog[]> {
    const out: StoredLog[] = [];
    await this.each(filter, scan, (log) => (out.push(log), out.length < scan.limit));
    return out;
  }

  async count(filter: LogFilter): Promise<number> {
    let n = 0;
    await this.each(filter, { descending: false, limit: Infinity }, () => (n++, true));
    return n;
  }

  /** Every line of an execution, oldest first. */
  async ofExecution(x: ExecutionRecord): Promise<LogRecord[]> {
    return (await this.find({ execution: x }, { descending: false, limit: Infinity })).map((l) => l.record);
  }

  /** Calls `visit` with each matching line in scan order until it returns false. */
  async each(filter: LogFilter, scan: LogScan, visit: (log: StoredLog) => boolean): Promise<void> {
    const days = filter.execution ? [filter.execution.day] : this.store.listDays().filter((d) => inRange(d, filter));
    if (scan.descending) days.reverse();
    const matcher = new LineMatcher(filter, this.store);
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
      // A position bounds its own day; the offsets of the lines themselves.
      const low = scan.descending ? scan.before : scan.after;
      const high = scan.descending ? scan.after : scan.before;
      if (low?.day === day) start = Math.max(start, low.offset + 1);
      if (high?.day === day) end = Math.min(end, high.offset);
      if (start >= end) continue;
      if (!(await scanFile(file.file, day, start, end, scan.descending, matcher, visit))) return;
    }
  }
}

function inRange(day: string, filter: LogFilter): boolean {
  const from = Date.parse(`${day}T00:00:00Z`);
  if (filter.from !== undefined && from + DAY_MS <= filter.from) return false;
  if (filter.to !== undefined && from > filter.to) return false;
  return true;
}

/** Reads [start, end) of a file in chunks cut at line ends; lines that start before `start` are skipped. */
async function scanFile(file: string, day: string, start: number, end: number, descending: boolean, matcher: LineMatcher, visit: (log: StoredLog) => boolean): Promise<boolean> {
  const handle = await fs.promises.open(file, "r");
  try {
    // Chunks are whole lines: a line that begins before `start` (for an offset bound, the line
    // at the bound) is not wanted, so reading starts at the next line.
    let from = start;
    if (start > 0) from = await nextLineStart(handle, start - 1, end);
    let to = end;
    const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(0, to - from)));
    while (from < to) {
      const size = Math.min(buf.length, to - from);
      const at = descending ? to - size : from;
      await readExactly(handle, buf, size, at);
      let chunk = buf.subarray(0, size);
      // Trim to whole lines: in ascending order drop the partial tail, in descending the partial head.
      if (descending) {
        const cut = at === from ? 0 : chunk.indexOf(0x0a) + 1;
        if (cut === 0 && at !== from) throw new Error(`A log line longer than ${CHUNK_BYTES} bytes in ${file}`);
        chunk = chunk.subarray(cut);
        const matches = matcher.lines(chunk, day, at + cut);
        for (let i = matches.length - 1; i >= 0; i--) if (!visit(matches[i])) return false;
        to = at + cut;
      } else {
        const last = at + size === to ? size : chunk.lastIndexOf(0x0a) + 1;
        if (last === 0) throw new Error(`A log line longer than ${CHUNK_BYTES} bytes in ${file}`);
        chunk = chunk.subarray(0, last);
        for (const match of matcher.lines(chunk, day, at)) if (!visit(match)) return false;
        from = at + last;
      }
    }
    return true;
  } finally {
    await handle.close();
  }
}

async function nextLineStart(handle: fs.promises.FileHandle, position: number, end: number): Promise<number> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (let at = position; at < end; at += buf.length) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, end - at), at);
    const newline = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (newline >= 0) return at + newline + 1;
    if (bytesRead === 0) break;
  }
  return end;
}

async function readExactly(handle: fs.promises.FileHandle, buf: Buffer, size: number, position: number): Promise<void> {
  let done = 0;
  while (done < size) {
    const { bytesRead } = await handle.read(buf, done, size - done, position + done);
    if (bytesRead === 0) throw new Error("A log file shrank while being read");
    done += bytesRead;
  }
}

/** The filter applied to a chunk of whole lines. */
class LineMatcher {
  private readonly severities: Set<string> | null;
  private readonly text: string | null;
  /** What one indexOf over a chunk finds: the most selective literal the filter has. */
  private readonly needle: { value: string; lowerCase: boolean } | null;

  constructor(
    private readonly filter: LogFilter,
    private readonly store: ExecutionStore,
  ) {
    this.severities = filter.severities?.length ? new Set(filter.severities) : null;
    this.text = filter.text ? filter.text.toLowerCase() : null;
    if (this.text) this.needle = { value: JSON.stringify(this.text).slice(1, -1), lowerCase: true };
    else if (filter.execution) this.needle = { value: `"executionId":${JSON.stringify(filter.execution.id)}`, lowerCase: false };
    else if (this.severities?.size === 1) this.needle = { value: `"severity":"${[...this.severities][0]}"`, lowerCase: false };
    else this.needle = null;
  }

  lines(chunk: Buffer, day: string, base: number): StoredLog[] {
    const out: StoredLog[] = [];
    const text = chunk.toString("utf8");
    // Offsets are bytes; string indexes equal them while the text is ASCII, and are converted otherwise.
    const ascii = text.length === chunk.length;
    const offsetOf = ascii ? (i: number) => base + i : byteOffsets(text, base);
    if (this.needle) {
      const { value, lowerCase } = this.needle;
      const haystack = lowerCase ? text.toLowerCase() : text;
      // Case mapping that changes lengths (rare scripts) breaks index arithmetic: go line by line.
      const find = haystack.length === text.length ? (from: number) => haystack.indexOf(value, from) : (from: number) => lowerIndexOf(text, value, from);
      let from = 0;
      for (;;) {
        const hit = find(from);
        if (hit < 0) break;
        const lineStart = text.lastIndexOf("\n", hit) + 1;
        let lineEnd = text.indexOf("\n", hit);
        if (lineEnd < 0) lineEnd = text.length;
        this.take(text, lineStart, lineEnd, day, offsetOf, out);
        from = lineEnd + 1;
      }
    } else {
      for (let lineStart = 0; lineStart < text.length; ) {
        let lineEnd = text.indexOf("\n", lineStart);
        if (lineEnd < 0) lineEnd = text.length;
        if (lineEnd > lineStart && this.headMatches(text, lineStart)) this.take(text, lineStart, lineEnd, day, offsetOf, out);
        lineStart = lineEnd + 1;
      }
    }
    return out;
  }

  /** Time and severity from the head every line starts with: `{"at":<ms>,"severity":"<S>",…`. */
  private headMatches(text: string, lineStart: number): boolean {
    if (this.filter.from === undefined && this.filter.to === undefined && !this.severities) return true;
    const comma = text.indexOf(",", lineStart + 6);
    const at = Number(text.slice(lineStart + 6, comma));
    if (this.filter.from !== undefined && at < this.filter.from) return false;
    if (this.filter.to !== undefined && at > this.filter.to) return false;
    if (this.severities) {
      const s = comma + 13; // past `,"severity":"`
      if (!this.severities.has(text.slice(s, text.indexOf('"', s)))) return false;
    }
    return true;
  }

  private take(text: string, lineStart: number, lineEnd: number, day: string, offsetOf: (i: number) => number, out: StoredLog[]): void {
    let record: LogRecord;
    try {
      record = JSON.parse(text.slice(lineStart, lineEnd));
    } catch {
      return; // a damaged line is skipped, as the journal's are
    }
    const f = this.filter;
    if (f.from !== undefined && record.at < f.from) return;
    if (f.to !== undefined && record.at > f.to) return;
    if (this.severities && !this.severities.has(record.severity)) return;
    if (this.text && !record.message.toLowerCase().includes(this.text)) return;
    if (f.execution && record.executionId !== f.execution.id) return;
    if (f.scope && !f.scope(record, record.executionId ? this.store.executions.get(record.executionId) : undefined)) return;
    out.push({ day, offset: offsetOf(lineStart), record });
  }
}

/** Byte offsets of string indexes in text that is not all ASCII; indexes are asked in increasing order. */
function byteOffsets(text: string, base: number): (i: number) => number {
  let index = 0;
  let bytes = base;
  return (i) => {
    if (i < index) {
      index = 0;
      bytes = base;
    }
    bytes += Buffer.byteLength(text.slice(index, i));
    index = i;
    return bytes;
  };
}

/** indexOf ignoring case, for text whose lower-case form has other lengths (rare scripts). */
function lowerIndexOf(text: string, lowerNeedle: string, from: number): number {
  for (let lineStart = from; lineStart < text.length; ) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    if (text.slice(lineStart, lineEnd).toLowerCase().includes(lowerNeedle)) return lineStart;
    lineStart = lineEnd + 1;
  }
  return -1;
}
