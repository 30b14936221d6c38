import * as fs from "node:fs";
import * as path from "node:path";
import {
  ExecutionResultType,
  ExecutionStatus,
  InvokeType,
  STOPPED_BEFORE_FINISH,
  Severity,
  StepName,
} from "../../../protocol/executions";
import { AppendFile, cutTornTail } from "./appendFile";

/** Where a blob lives: its day's `blobs.bin`, at an offset. */
export interface BlobRef {
  offset: number;
  length: number;
}

export interface StepRecord {
  stepName: StepName;
  startedAt: number;
  endedAt: number;
  hasError: boolean;
  /** MessagePack `{data, contentType}`. */
  result: BlobRef;
}

export interface ExecutionRecord {
  id: string;
  /** The UTC day of `startedAt`: everything about an execution lives in that day's files. */
  day: string;
  integrationId: string;
  flowId: string;
  flowName: string;
  flowConfigId: string;
  instanceId: string;
  customerId: string;
  invokeType: InvokeType;
  isTestExecution: boolean;
  status: ExecutionStatus;
  resultType: ExecutionResultType | null;
  /** Accepted (ms since epoch); never changes. */
  startedAt: number;
  runStartedAt: number | null;
  endedAt: number | null;
  error: string | null;
  /** The integration build that ran it; set when it starts. */
  versionNumber: number | null;
  /** MessagePack trigger request: `{method, pathFragment, headers, queryParameters, body, contentType}`. */
  request: BlobRef | null;
  steps: StepRecord[];
}

export interface LogRecord {
  at: number;
  severity: Severity;
  stepName: StepName | null;
  executionId: string;
  message: string;
}

type JournalEntry =
  | { e: "accepted"; x: ExecutionRecord }
  | { e: "started"; id: string; at: number; versionNumber: number }
  | { e: "step"; id: string; step: StepRecord }
  | { e: "ended"; id: string; at: number; status: ExecutionStatus; resultType: ExecutionResultType; error: string | null };

interface Day {
  journal: AppendFile;
  blobs: AppendFile;
  logs: AppendFile;
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Executions, step results and logs, in append-only files, one folder per UTC day:
 * `journal.ndjson` (one JSON entry per change of an execution), `blobs.bin` (MessagePack request
 * payloads and step results, referenced by offset) and `logs.ndjson`. The journal is replayed into
 * an in-memory index at start-up; blobs and logs are read on demand. Retention deletes folders.
 */
export class ExecutionStore {
  readonly executions = new Map<string, ExecutionRecord>();
  private readonly days = new Map<string, Day>();
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, "executions");
    fs.mkdirSync(this.root, { recursive: true });
  }

  /**
   * Replays every day's journal, cutting torn tails. Executions that were running end in ERROR;
   * the ids of those still QUEUED are returned so the runtime can run them now.
   */
  open(now = Date.now()): string[] {
    const queued: string[] = [];
    for (const day of fs.readdirSync(this.root).filter((d) => DAY_PATTERN.test(d)).sort()) {
      const dir = path.join(this.root, day);
      cutTornTail(path.join(dir, "logs.ndjson"));
      const journal = cutTornTail(path.join(dir, "journal.ndjson"));
      let start = 0;
      while (start < journal.length) {
        const end = journal.indexOf(0x0a, start);
        const line = journal.toString("utf8", start, end);
        start = end + 1;
        try {
          this.apply(JSON.parse(line) as JournalEntry);
        } catch {
          process.stderr.write(`refract: skipped an unreadable journal line in ${day}\n`);
        }
      }
    }
    for (const x of this.executions.values()) {
      if (x.status === "PENDING") this.endedInError(x.id, STOPPED_BEFORE_FINISH, now);
      else if (x.status === "QUEUED") queued.push(x.id);
    }
    return queued.sort((a, b) => this.executions.get(a)!.startedAt - this.executions.get(b)!.startedAt);
  }

  private apply(entry: JournalEntry): void {
    if (entry.e === "accepted") {
      this.executions.set(entry.x.id, entry.x);
      return;
    }
    const x = this.executions.get(entry.id);
    if (!x) return;
    switch (entry.e) {
      case "started":
        x.status = "PENDING";
        x.runStartedAt = entry.at;
        x.versionNumber = entry.versionNumber;
        break;
      case "step":
        x.steps.push(entry.step);
        break;
      case "ended":
        x.status = entry.status;
        x.resultType = entry.resultType;
        x.endedAt = entry.at;
        x.error = entry.error;
        break;
    }
  }

  private day(name: string): Day {
    let day = this.days.get(name);
    if (!day) {
      const dir = path.join(this.root, name);
      fs.mkdirSync(dir, { recursive: true });
      day = {
        journal: new AppendFile(path.join(dir, "journal.ndjson")),
        blobs: new AppendFile(path.join(dir, "blobs.bin")),
        logs: new AppendFile(path.join(dir, "logs.ndjson")),
      };
      this.days.set(name, day);
    }
    return day;
  }

  private write(x: ExecutionRecord, entry: JournalEntry): void {
    this.day(x.day).journal.append(Buffer.from(JSON.stringify(entry) + "\n"));
    this.apply(entry);
  }

  /**
   * Records a newly accepted execution with its request. Resolves when the record and the request
   * are handed to the OS: only then may the caller answer "accepted".
   */
  accept(
    fields: Omit<ExecutionRecord, "day" | "status" | "resultType" | "runStartedAt" | "endedAt" | "error" | "versionNumber" | "request" | "steps">,
    request: Uint8Array | null,
  ): Promise<void> {
    const dayName = new Date(fields.startedAt).toISOString().slice(0, 10);
    const day = this.day(dayName);
    const ref = request ? { offset: day.blobs.append(request), length: request.byteLength } : null;
    const x: ExecutionRecord = {
      ...fields,
      day: dayName,
      status: "QUEUED",
      resultType: null,
      runStartedAt: null,
      endedAt: null,
      error: null,
      versionNumber: null,
      request: ref,
      steps: [],
    };
    this.write(x, { e: "accepted", x });
    return request ? Promise.all([day.blobs.flushed(), day.journal.flushed()]).then(() => undefined) : day.journal.flushed();
  }

  started(id: string, at: number, versionNumber: number): void {
    const x = this.executions.get(id);
    if (x) this.write(x, { e: "started", id, at, versionNumber });
  }

  stepResult(id: string, stepName: StepName, result: Uint8Array, startedAt: number, endedAt: number, hasError: boolean): void {
    const x = this.executions.get(id);
    if (!x) return;
    const offset = this.day(x.day).blobs.append(result);
    this.write(x, { e: "step", id, step: { stepName, startedAt, endedAt, hasError, result: { offset, length: result.byteLength } } });
  }

  ended(id: string, status: ExecutionStatus, resultType: ExecutionResultType, error: string | null, at = Date.now()): void {
    const x = this.executions.get(id);
    if (x && x.endedAt === null) this.write(x, { e: "ended", id, at, status, resultType, error });
  }

  /**
   * Ends an execution whose code did not report its end (its worker stopped, the runtime
   * stopped), with the closing log line Prismatic's clients wait for.
   */
  endedInError(id: string, error: string, at = Date.now()): void {
    const line: LogRecord = { at, severity: "ERROR", stepName: null, executionId: id, message: `Ending Instance Execution (ERROR): ${error}` };
    this.appendLogs(id, Buffer.from(JSON.stringify(line) + "\n"));
    this.ended(id, "ERROR", "ERROR", error, at);
  }

  /** Appends log lines; `lines` is already NDJSON (workers format their own lines). */
  appendLogs(id: string, lines: Buffer): void {
    const x = this.executions.get(id);
    if (x) this.day(x.day).logs.append(lines);
  }

  /** A blob's bytes, or null when they are gone (a torn tail, a deleted day). */
  async readBlob(x: ExecutionRecord, ref: BlobRef): Promise<Buffer | null> {
    await this.days.get(x.day)?.blobs.flushed();
    try {
      const file = await fs.promises.open(path.join(this.root, x.day, "blobs.bin"), "r");
      try {
        const buf = Buffer.alloc(ref.length);
        const { bytesRead } = await file.read(buf, 0, ref.length, ref.offset);
        return bytesRead === ref.length ? buf : null;
      } finally {
        await file.close();
      }
    } catch {
      return null;
    }
  }

  /** An execution's log lines in the order they were written. */
  async readLogs(x: ExecutionRecord): Promise<LogRecord[]> {
    await this.days.get(x.day)?.logs.flushed();
    const needle = JSON.stringify(x.id);
    let text: string;
    try {
      text = await fs.promises.readFile(path.join(this.root, x.day, "logs.ndjson"), "utf8");
    } catch {
      return [];
    }
    return text
      .split("\n")
      .filter((line) => line.includes(needle))
      .map((line) => JSON.parse(line) as LogRecord);
  }

  /** Bytes appended but not yet handed to the OS, across all files: the backpressure signal. */
  get pendingBytes(): number {
    let n = 0;
    for (const d of this.days.values()) n += d.journal.pendingBytes + d.blobs.pendingBytes + d.logs.pendingBytes;
    return n;
  }

  /** Resolves once everything appended so far is handed to the OS. */
  async flushed(): Promise<void> {
    await Promise.all([...this.days.values()].flatMap((d) => [d.journal.flushed(), d.blobs.flushed(), d.logs.flushed()]));
  }

  /** Retention: one day's executions, step results and logs go in one operation. */
  async deleteDay(name: string): Promise<void> {
    const day = this.days.get(name);
    if (day) {
      this.days.delete(name);
      await Promise.all([day.journal.close(), day.blobs.close(), day.logs.close()]);
    }
    for (const [id, x] of this.executions) if (x.day === name) this.executions.delete(id);
    fs.rmSync(path.join(this.root, name), { recursive: true, force: true });
  }

  listDays(): string[] {
    return fs.readdirSync(this.root).filter((d) => DAY_PATTERN.test(d)).sort();
  }

  async close(): Promise<void> {
    await Promise.all([...this.days.values()].flatMap((d) => [d.journal.close(), d.blobs.close(), d.logs.close()]));
    this.days.clear();
  }
}
