import { EventEmitter } from "node:events";
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
import { PayloadContext, payloadContext, payloadResult } from "../runtime/triggerPayload";
import { AppendFile, cutTornTail } from "./appendFile";
import { eachWindow } from "./lines";
import { indexRecords } from "./logIndex";

/** Where a blob lives in its day's `blobs.bin`. */
export interface BlobRef {
  offset: number;
  length: number;
}

/**
 * The index keeps times as milliseconds from this process's start: integers that small (within
 * 24 days) live inside their object as V8 "small integers", where a time since 1970 is a separate
 * 16-byte number (seven an execution). The getters add it back. Journals hold absolute times.
 */
const EPOCH = Date.now();

/**
 * The same number, as a small integer when it is one: arithmetic and JSON.parse give V8 doubles
 * even for integers, and a field first given a double keeps every value of it boxed.
 */
const small = (n: number): number => ((n | 0) === n ? n | 0 : n);

/** A time as the index keeps it. */
const sinceStart = (at: number): number => small(at - EPOCH);

/**
 * A step, and where its result (MessagePack `{data, contentType}`) lives in its day's `blobs.bin`.
 * Made on demand from its execution's fields (`ExecutionRecord.steps`).
 */
export interface StepRecord extends BlobRef {
  stepName: StepName;
  startedAt: number;
  endedAt: number;
  hasError: boolean;
  /**
   * Set for an onTrigger result that is the payload as received, which is made again from the
   * request and this context (triggerPayload.ts) rather than stored; null when the journal lost
   * the context. Offset and length are then 0.
   */
  payload?: PayloadContext | null;
}

const stepRecord = (stepName: StepName, from: number, to: number, hasError: boolean, offset: number, length: number): StepRecord => ({
  stepName,
  startedAt: EPOCH + from,
  endedAt: EPOCH + to,
  hasError,
  offset,
  length,
});

/** `triggerLength` of an onTrigger result that is the payload as received (`StepRecord.payload`). */
const PAYLOAD = -2;

/**
 * What an execution ran: flow config, flow, instance, customer, integration. Many executions
 * share one scope object (and the journal writes it once), which keeps the index small.
 */
export interface ExecutionScope {
  flowConfigId: string;
  flowId: string;
  flowName: string;
  instanceId: string;
  customerId: string;
  integrationId: string;
  isTestExecution: boolean;
}

/** The log stretch of an execution whose own is not known: its whole day, searched for its id. */
const WHOLE_DAY: BlobRef = { offset: 0, length: Number.MAX_SAFE_INTEGER };

/**
 * An execution in the index, changed by applying journal entries (and, while it runs, by widening
 * its log stretch, which its `ended` entry records). Blob references are kept as plain numbers
 * for the same reason as times (one object fewer each); `request` and `logs` make them objects
 * on demand.
 */
export class ExecutionRecord {
  status: ExecutionStatus = "QUEUED";
  resultType: ExecutionResultType | null = null;
  error: string | null = null;
  /** The integration build that ran it; set when it starts. */
  versionNumber: number | null = null;
  // Its two steps as numbers, not objects (~150 bytes an execution fewer): times from the
  // process's start, where the result is (length -1: the step has not run), and hasError bits.
  private triggerFrom = 0;
  private triggerTo = 0;
  private triggerOffset = 0;
  /** -1: not run; PAYLOAD: the payload as received, with this context. */
  private triggerLength = -1;
  private triggerPayload: PayloadContext | null = null;
  private executionFrom = 0;
  private executionTo = 0;
  private executionOffset = 0;
  private executionLength = -1;
  /** 1: onTrigger has an error, 2: onExecution has. */
  private stepErrors = 0;
  private readonly accepted: number;
  private run: number | null = null;
  private end: number | null = null;
  private readonly requestOffset: number;
  /** -1: no request. */
  private readonly requestLength: number;
  private logsOffset = 0;
  /** -1: no log lines yet. */
  private logsLength = -1;

  constructor(
    readonly id: string,
    /** The UTC day of `startedAt`: everything about an execution lives in that day's files. */
    readonly day: string,
    readonly scope: ExecutionScope,
    readonly invokeType: InvokeType,
    startedAt: number,
    request: BlobRef | null,
    /** How it relates to other executions; null for most, which keeps the index small. */
    readonly links: ExecutionLinks | null,
  ) {
    this.accepted = sinceStart(startedAt);
    this.requestOffset = request ? small(request.offset) : 0;
    this.requestLength = request ? small(request.length) : -1;
  }

  /** Accepted (ms since epoch); never changes. */
  get startedAt(): number {
    return EPOCH + this.accepted;
  }

  get runStartedAt(): number | null {
    return this.run === null ? null : EPOCH + this.run;
  }

  get endedAt(): number | null {
    return this.end === null ? null : EPOCH + this.end;
  }

  /** The steps it has run, onTrigger first. */
  get steps(): StepRecord[] {
    const steps: StepRecord[] = [];
    if (this.triggerLength === PAYLOAD) steps.push({ ...stepRecord("onTrigger", this.triggerFrom, this.triggerTo, false, 0, 0), payload: this.triggerPayload });
    else if (this.triggerLength >= 0) steps.push(stepRecord("onTrigger", this.triggerFrom, this.triggerTo, (this.stepErrors & 1) !== 0, this.triggerOffset, this.triggerLength));
    if (this.executionLength >= 0) steps.push(stepRecord("onExecution", this.executionFrom, this.executionTo, (this.stepErrors & 2) !== 0, this.executionOffset, this.executionLength));
    return steps;
  }

  get stepCount(): number {
    return (this.triggerLength !== -1 ? 1 : 0) + (this.executionLength >= 0 ? 1 : 0);
  }

  /** The trigger request it was invoked with (`encodeRequest` in messages.ts). */
  get request(): BlobRef | null {
    return this.requestLength < 0 ? null : { offset: this.requestOffset, length: this.requestLength };
  }

  /**
   * The stretch of its day's `logs.ndjson` that holds its log lines (among other executions'),
   * so reading them does not scan the day; null before the first line.
   */
  get logs(): BlobRef | null {
    return this.logsLength < 0 ? null : { offset: this.logsOffset, length: this.logsLength };
  }

  set logs(ref: BlobRef | null) {
    this.logsOffset = ref ? small(ref.offset) : 0;
    this.logsLength = ref ? small(ref.length) : -1;
  }

  /** `payload`: the context a step entry that names one refers to. */
  apply(entry: Change, payload: PayloadContext | null = null): void {
    switch (entry.e) {
      case "started":
        this.status = "PENDING";
        this.run = sinceStart(entry.at);
        this.versionNumber = entry.versionNumber;
        break;
      case "step":
        if ("context" in entry) {
          this.triggerFrom = sinceStart(entry.startedAt);
          this.triggerTo = sinceStart(entry.endedAt);
          this.triggerLength = PAYLOAD;
          this.triggerPayload = payload;
        } else if (entry.stepName === "onTrigger") {
          this.triggerFrom = sinceStart(entry.startedAt);
          this.triggerTo = sinceStart(entry.endedAt);
          this.triggerOffset = small(entry.offset);
          this.triggerLength = small(entry.length);
        } else {
          this.executionFrom = sinceStart(entry.startedAt);
          this.executionTo = sinceStart(entry.endedAt);
          this.executionOffset = small(entry.offset);
          this.executionLength = small(entry.length);
        }
        if (entry.hasError) this.stepErrors |= entry.stepName === "onTrigger" ? 1 : 2;
        break;
      case "ended":
        this.status = entry.status;
        this.resultType = entry.resultType;
        this.end = sinceStart(entry.at);
        this.error = entry.error;
        this.logs = entry.logs === undefined ? WHOLE_DAY : entry.logs; // journals from before log stretches
        break;
      case "logs":
        this.logs = entry.logs;
        break;
    }
  }
}

/** Lineage: the execution that invoked this one (cross-flow), that it replays, that it retries. */
export interface ExecutionLinks {
  invokedBy?: string;
  replayOf?: string;
  /** The original (first) attempt. */
  retryOf?: string;
  /** This attempt's number: 1 for the first retry. */
  retryCount?: number;
}

export interface LogRecord {
  at: number;
  severity: Severity;
  stepName: StepName | null;
  /** Null for the lines of an instance's lifecycle hooks, which name their instance and flow instead. */
  executionId: string | null;
  instanceId?: string;
  flowId?: string;
  message: string;
}

/**
 * One line of a day's journal. A `scope` entry precedes the first execution of a flow config
 * in a file (and follows any change of it); `accepted` entries name the scope by flow config id.
 */
type JournalEntry =
  | ({ e: "scope" } & ExecutionScope)
  | { e: "accepted"; id: string; scope: string; invokeType: InvokeType; startedAt: number; request: BlobRef | null; links?: ExecutionLinks }
  | { e: "started"; id: string; at: number; versionNumber: number }
  | { e: "step"; id: string; stepName: StepName; startedAt: number; endedAt: number; hasError: boolean; offset: number; length: number }
  /** An onTrigger result that is the payload as received: made from the request and the named context. */
  | { e: "step"; id: string; stepName: "onTrigger"; startedAt: number; endedAt: number; hasError: false; context: string }
  /** What the payloads of a context (the runtime's context key) hold besides the request; written before the first step that names it. */
  | { e: "context"; key: string; context: PayloadContext }
  | { e: "ended"; id: string; at: number; status: ExecutionStatus; resultType: ExecutionResultType; error: string | null; logs: BlobRef | null }
  /** Log lines written after the end (about retries) widen the stretch. */
  | { e: "logs"; id: string; logs: BlobRef };

/**
 * An entry as its journal line: `JSON.stringify(entry)` and a newline. The entries every execution
 * writes (accepted, started, step, ended) are written out field by field, in their types' order,
 * in about half the time (0.9 against 1.7 µs a line with its append; five lines an execution, on
 * the thread that answers webhooks).
 */
export function journalLine(entry: JournalEntry): string {
  const q = JSON.stringify;
  switch (entry.e) {
    case "accepted":
      if (entry.links) break;
      return `{"e":"accepted","id":${q(entry.id)},"scope":${q(entry.scope)},"invokeType":${q(entry.invokeType)},"startedAt":${entry.startedAt},"request":${blobRef(entry.request)}}\n`;
    case "started":
      return `{"e":"started","id":${q(entry.id)},"at":${entry.at},"versionNumber":${entry.versionNumber}}\n`;
    case "step":
      if ("context" in entry) return `{"e":"step","id":${q(entry.id)},"stepName":"onTrigger","startedAt":${entry.startedAt},"endedAt":${entry.endedAt},"hasError":false,"context":${q(entry.context)}}\n`;
      return `{"e":"step","id":${q(entry.id)},"stepName":${q(entry.stepName)},"startedAt":${entry.startedAt},"endedAt":${entry.endedAt},"hasError":${entry.hasError},"offset":${entry.offset},"length":${entry.length}}\n`;
    case "ended":
      return `{"e":"ended","id":${q(entry.id)},"at":${entry.at},"status":${q(entry.status)},"resultType":${q(entry.resultType)},"error":${q(entry.error)},"logs":${blobRef(entry.logs)}}\n`;
  }
  return `${q(entry)}\n`;
}

const blobRef = (ref: BlobRef | null) => (ref ? `{"offset":${ref.offset},"length":${ref.length}}` : "null");

/** The entries that change an execution already in the index. */
type Change = Exclude<JournalEntry, { e: "scope" } | { e: "accepted" } | { e: "context" }>;

interface Day {
  journal: AppendFile;
  blobs: AppendFile;
  logs: AppendFile;
  /** `logs.idx` (logIndex.ts). */
  logIndex: AppendFile;
  /** The scope each flow config has in this day's journal, as last written. */
  scopes: Map<string, ExecutionScope>;
  /** Contexts written in this day's journal by this process (a key's context never changes within one). */
  contexts: Set<string>;
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/**
 * Executions, step results and logs, in append-only files, one folder per UTC day:
 * `journal.ndjson` (one JSON entry per change of an execution), `blobs.bin` (trigger requests and
 * MessagePack step results, referenced by offset), `logs.ndjson` and its index `logs.idx`. The journals are replayed
 * into an in-memory index in the background at start-up (`loaded`); blobs and logs are read on
 * demand. Retention deletes whole folders.
 */
export class ExecutionStore {
  readonly executions = new Map<string, ExecutionRecord>();
  /**
   * Live changes, for listeners such as the language server: `change` (execution, logged) when one
   * is accepted, starts, stores a step, ends, or writes log lines (`logged`). Loading emits none.
   * One listener per `/events` stream (at most 64) and the language server's.
   */
  readonly changes = new EventEmitter().setMaxListeners(0);
  /** When the latest execution of each instance and flow config started (`lastExecutedAt`), by their ids. */
  readonly lastStartedAt = new Map<string, number>();
  /** Each instance's executions, oldest first: instance views read these instead of the whole index. */
  private readonly byInstance = new Map<string, ExecutionRecord[]>();
  /** Ids of the executions that link to an execution, by its id (see `link`). */
  private readonly linkedFrom = new Map<string, string[]>();
  private readonly days = new Map<string, Day>();
  private readonly root: string;
  private today = { name: "", from: 0 };

  constructor(dataDir: string) {
    this.root = path.join(dataDir, "executions");
    fs.mkdirSync(this.root, { recursive: true });
  }

  /**
   * Cuts torn tails at once, then (after `replayAfter`, so start-up work comes first) replays every
   * day's journal as it was when opened, a slice at a time;
   * executions written meanwhile are already in the index. Executions that were running end in
   * ERROR; resolves to the ids of those still QUEUED, oldest first, so the runtime can run them.
   */
  async open(replayAfter: Promise<unknown> = Promise.resolve(), now = Date.now()): Promise<string[]> {
    const sizes = new Map<string, number>();
    for (const day of this.listDays()) {
      const dir = path.join(this.root, day);
      cutTornTail(path.join(dir, "logs.ndjson"));
      sizes.set(day, cutTornTail(path.join(dir, "journal.ndjson")));
    }
    await replayAfter;
    const loaded: ExecutionRecord[] = [];
    for (const [day, size] of sizes) {
      if (size === 0) continue; // no journal (a day folder left half made or half deleted), or an empty one
      const scopes = new Map<string, ExecutionScope>();
      const contexts = new Map<string, PayloadContext>();
      let unscoped = 0;
      const read = eachWindow(path.join(this.root, day, "journal.ndjson"), 0, size, false, (buf, from, to) => {
        for (const line of buf.toString("utf8", from, to).split("\n")) {
          if (!line) continue;
          let entry: JournalEntry;
          try {
            entry = JSON.parse(line);
            if (!entry || typeof entry !== "object") throw new Error("not an entry");
          } catch {
            process.stderr.write(`refract: skipped an unreadable journal line in ${day}\n`);
            continue;
          }
          if (entry.e === "scope") {
            const { e: _, ...scope } = entry;
            scopes.set(scope.flowConfigId, scope);
          } else if (entry.e === "accepted") {
            const scope = scopes.get(entry.scope);
            if (!scope) unscoped++;
            if (!scope || this.executions.has(entry.id)) continue;
            const x = new ExecutionRecord(entry.id, day, scope, entry.invokeType, entry.startedAt, entry.request, entry.links ?? null);
            this.executions.set(x.id, x);
            this.link(x);
            loaded.push(x);
          } else if (entry.e === "context") {
            contexts.set(entry.key, entry.context);
          } else {
            this.executions.get(entry.id)?.apply(entry, "context" in entry ? (contexts.get(entry.context) ?? null) : null);
          }
        }
        return true;
      });
      // Only damage from outside makes a journal unreadable (a line over 1 MB): what was read stays.
      await read.catch((err) => process.stderr.write(`refract: stopped reading the journal of ${day}: ${(err as Error).message}\n`));
      if (unscoped) process.stderr.write(`refract: skipped ${unscoped} executions in the journal of ${day}: the line naming their flow config is missing\n`);
    }
    const queued: ExecutionRecord[] = [];
    for (const x of loaded) {
      if (x.status === "PENDING") {
        x.logs = WHOLE_DAY; // its stretch was not recorded: it never ended
        this.endedInError(x.id, STOPPED_BEFORE_FINISH, now);
      }
      else if (x.status === "QUEUED") queued.push(x);
    }
    return queued.sort((a, b) => a.startedAt - b.startedAt).map((x) => x.id);
  }

  private day(name: string): Day {
    let day = this.days.get(name);
    if (!day) {
      const dir = path.join(this.root, name);
      fs.mkdirSync(dir, { recursive: true });
      day = {
        journal: new AppendFile(path.join(dir, "journal.ndjson")),
        blobs: new AppendFile(path.join(dir, "blobs.bin"), true),
        logs: new AppendFile(path.join(dir, "logs.ndjson")),
        logIndex: new AppendFile(path.join(dir, "logs.idx")),
        scopes: new Map(),
        contexts: new Set(),
      };
      this.days.set(name, day);
    }
    return day;
  }

  private write(x: ExecutionRecord, entry: Change, payload: PayloadContext | null = null): void {
    this.day(x.day).journal.appendText(journalLine(entry));
    x.apply(entry, payload);
    this.changes.emit("change", x, entry.e === "logs");
  }

  /**
   * Records a newly accepted execution with its request. Resolves when the record and the request
   * are handed to the OS: only then may the caller answer "accepted".
   */
  accept(id: string, scope: ExecutionScope, invokeType: InvokeType, startedAt: number, request: Uint8Array | null, links: ExecutionLinks | null = null): Promise<void> {
    const dayName = this.dayOf(startedAt);
    const day = this.day(dayName);
    let shared = day.scopes.get(scope.flowConfigId);
    if (!shared || !sameScope(shared, scope)) {
      shared = scope;
      day.scopes.set(scope.flowConfigId, scope);
      day.journal.appendText(journalLine({ e: "scope", ...scope }));
    }
    const ref: BlobRef | null = request ? { offset: day.blobs.append(request), length: request.byteLength } : null;
    const x = new ExecutionRecord(id, dayName, shared, invokeType, startedAt, ref, links);
    this.executions.set(id, x);
    this.link(x);
    const entry: JournalEntry = links
      ? { e: "accepted", id, scope: scope.flowConfigId, invokeType, startedAt, request: ref, links }
      : { e: "accepted", id, scope: scope.flowConfigId, invokeType, startedAt, request: ref };
    day.journal.appendText(journalLine(entry));
    this.changes.emit("change", x, false);
    return request ? Promise.all([day.blobs.flushed(), day.journal.flushed()]).then(() => undefined) : day.journal.flushed();
  }

  /** Keeps the other direction of an execution's links (replays, retries, invoked executions), and lastStartedAt. */
  private link(x: ExecutionRecord): void {
    const ofInstance = this.byInstance.get(x.scope.instanceId);
    if (ofInstance) ofInstance.push(x);
    else this.byInstance.set(x.scope.instanceId, [x]);
    for (const key of [x.scope.instanceId, x.scope.flowConfigId]) if (!(x.startedAt <= this.lastStartedAt.get(key)!)) this.lastStartedAt.set(key, x.startedAt);
    if (!x.links) return;
    for (const target of [x.links.invokedBy, x.links.replayOf, x.links.retryOf]) {
      if (!target) continue;
      let list = this.linkedFrom.get(target);
      if (!list) this.linkedFrom.set(target, (list = []));
      list.push(x.id);
    }
  }

  /** An instance's executions, oldest first (removed instances keep theirs until retention). */
  executionsOf(instanceId: string): readonly ExecutionRecord[] {
    return this.byInstance.get(instanceId) ?? [];
  }

  /** Executions whose links name this one, oldest first: its replays, retries and invoked executions. */
  linkedTo(id: string): ExecutionRecord[] {
    return (this.linkedFrom.get(id) ?? []).map((l) => this.executions.get(l)).filter((x): x is ExecutionRecord => x !== undefined);
  }

  /** The UTC day of a time, as one shared string per day (the index holds one per execution). */
  private dayOf(at: number): string {
    if (at < this.today.from || at >= this.today.from + DAY_MS) {
      const from = at - (at % DAY_MS);
      this.today = { name: new Date(from).toISOString().slice(0, 10), from };
    }
    return this.today.name;
  }

  started(id: string, at: number, versionNumber: number): void {
    const x = this.executions.get(id);
    if (x) this.write(x, { e: "started", id, at, versionNumber });
  }

  stepResult(id: string, stepName: StepName, result: Uint8Array, startedAt: number, endedAt: number, hasError: boolean): void {
    const x = this.executions.get(id);
    if (!x) return;
    const offset = this.day(x.day).blobs.append(result);
    this.write(x, { e: "step", id, stepName, startedAt, endedAt, hasError, offset, length: result.byteLength });
  }

  /** An onTrigger result that is the payload as received: its context is journaled, once a day, instead of the result. */
  payloadStep(id: string, contextKey: string, context: PayloadContext, startedAt: number, endedAt: number): void {
    const x = this.executions.get(id);
    if (!x) return;
    const day = this.day(x.day);
    if (!day.contexts.has(contextKey)) {
      day.contexts.add(contextKey);
      day.journal.appendText(journalLine({ e: "context", key: contextKey, context: payloadContext(context) }));
    }
    this.write(x, { e: "step", id, stepName: "onTrigger", startedAt, endedAt, hasError: false, context: contextKey }, context);
  }

  ended(id: string, status: ExecutionStatus, resultType: ExecutionResultType, error: string | null, at = Date.now()): void {
    const x = this.executions.get(id);
    if (x && x.endedAt === null) this.write(x, { e: "ended", id, at, status, resultType, error, logs: x.logs });
  }

  /**
   * Ends an execution whose code did not report its end (its worker stopped, the runtime
   * stopped), with the closing log line Prismatic's clients wait for.
   */
  endedInError(id: string, error: string, at = Date.now()): void {
    this.runtimeError(id, `Ending Instance Execution (ERROR): ${error}`, at);
    this.ended(id, "ERROR", "ERROR", error, at);
  }

  /** An ERROR line the runtime itself writes into an execution's log. */
  runtimeError(id: string, message: string, at = Date.now()): void {
    const line: LogRecord = { at, severity: "ERROR", stepName: null, executionId: id, message };
    this.appendLogs(id, JSON.stringify(line) + "\n");
  }

  /**
   * Appends log lines; `lines` is already NDJSON (workers format their own lines). An execution's
   * lines go to its day; lines without one (`id` null: lifecycle hooks) to today.
   */
  appendLogs(id: string | null, lines: string): void {
    const x = id === null ? undefined : this.executions.get(id);
    if (id !== null && !x) return;
    const day = this.day(x ? x.day : this.dayOf(Date.now()));
    const offset = day.logs.appendText(lines);
    day.logIndex.append(indexRecords(lines, offset));
    if (!x) return;
    const logs = { offset: x.logs?.offset ?? offset, length: day.logs.size - (x.logs?.offset ?? offset) };
    if (x.endedAt !== null) return this.write(x, { e: "logs", id: x.id, logs });
    x.logs = logs;
    this.changes.emit("change", x, true);
  }

  /**
   * The first error of the files being written, while they fail (a full disk): what they could
   * not write waits in memory, so new executions are refused until they work again.
   */
  get writeError(): Error | null {
    for (const d of this.days.values()) for (const f of [d.journal, d.blobs, d.logs, d.logIndex]) if (f.failure) return f.failure;
    return null;
  }

  /** A blob's bytes, or null when they are gone (a torn tail, a deleted day, a write that failed). */
  async readBlob(x: ExecutionRecord, ref: BlobRef): Promise<Buffer | null> {
    await written(this.days.get(x.day)?.blobs);
    try {
      const file = await fs.promises.open(path.join(this.root, x.day, "blobs.bin"), "r");
      try {
        const { offset, length } = ref;
        const buf = Buffer.alloc(length);
        const { bytesRead } = await file.read(buf, 0, length, offset);
        return bytesRead === length ? buf : null;
      } finally {
        await file.close();
      }
    } catch {
      return null;
    }
  }

  /** A step's result (MessagePack), or null when it is gone (see readBlob). */
  async readStepResult(x: ExecutionRecord, step: StepRecord): Promise<Buffer | null> {
    if (step.payload === undefined) return this.readBlob(x, step);
    const request = step.payload && x.request ? await this.readBlob(x, x.request) : null;
    if (!request || !step.payload) return null;
    try {
      const bytes = payloadResult(request, step.payload, x.id, x.startedAt);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch {
      return null; // a damaged request
    }
  }

  /** The file of an execution's blobs, once what was appended to it is written. */
  async blobFile(x: ExecutionRecord): Promise<string> {
    await written(this.days.get(x.day)?.blobs);
    return path.join(this.root, x.day, "blobs.bin");
  }

  /** A day's log file and its index (logIndex.ts), once what was appended to them is written; null when there is none. */
  async logFile(day: string): Promise<{ file: string; size: number; index: string } | null> {
    const open = this.days.get(day);
    if (open) await Promise.all([written(open.logs), written(open.logIndex)]);
    const file = path.join(this.root, day, "logs.ndjson");
    try {
      return { file, size: open?.logs.size ?? (await fs.promises.stat(file)).size, index: path.join(this.root, day, "logs.idx") };
    } catch {
      return null;
    }
  }

  /** Resolves once everything appended so far is handed to the OS. */
  async flushed(): Promise<void> {
    await Promise.all([...this.days.values()].flatMap((d) => [d.journal.flushed(), d.blobs.flushed(), d.logs.flushed(), d.logIndex.flushed()]));
  }

  /** Retention: one day's executions, step results and logs go in one operation. */
  async deleteDay(name: string): Promise<void> {
    const day = this.days.get(name);
    if (day) {
      this.days.delete(name);
      await Promise.all([day.journal.close(), day.blobs.close(), day.logs.close(), day.logIndex.close()]);
    }
    for (const [id, x] of this.executions) {
      if (x.day !== name) continue;
      this.executions.delete(id);
      this.linkedFrom.delete(id);
    }
    for (const [instanceId, list] of this.byInstance) {
      const kept = list.filter((x) => x.day !== name);
      if (kept.length) this.byInstance.set(instanceId, kept);
      else this.byInstance.delete(instanceId);
    }
    await fs.promises.rm(path.join(this.root, name), { recursive: true, force: true });
  }

  listDays(): string[] {
    return fs.readdirSync(this.root).filter((d) => DAY_PATTERN.test(d)).sort();
  }

  async close(): Promise<void> {
    await Promise.all([...this.days.values()].flatMap((d) => [d.journal.close(), d.blobs.close(), d.logs.close(), d.logIndex.close()]));
    this.days.clear();
  }
}

/** Once what was appended to a file is written, or its write failed: readers then read what there is. */
const written = (file: AppendFile | undefined): Promise<void> | undefined => file?.flushed().catch(() => undefined);

function sameScope(a: ExecutionScope, b: ExecutionScope): boolean {
  return (
    a.flowId === b.flowId && a.flowName === b.flowName && a.instanceId === b.instanceId && a.customerId === b.customerId && a.integrationId === b.integrationId && a.isTestExecution === b.isTestExecution
  );
}
