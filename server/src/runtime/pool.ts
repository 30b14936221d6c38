import { MessageChannel, MessagePort, Worker, receiveMessageOnPort } from "node:worker_threads";
import { WORKER_YOUNG_GENERATION_MB, setWorkerHeapFlags } from "./workerHeap";
import { ACTIVITY_BUSY, ACTIVITY_SLOT, ACTIVITY_TICKS, FromWorker, ToWorker, gatherBytes } from "./messages";

/**
 * Executions a worker may be sent that have not reported their start; the others wait in the
 * runtime's queue (QUEUED). A worker takes every message waiting for it in one turn of its event
 * loop and keeps what those runs report until the turn ends, so with hundreds waiting (a
 * saturated --max-concurrency 500) that output lived long enough to be promoted, and each
 * worker's old generation was collected twice a second. Measured on the saturation run (eight
 * alternating pairs, medians): CPU per execution 494 -> 429 us, executions +6 %, peak RSS -25 MB.
 * It also bounds what a stuck worker takes down with it: the executions held back run on its
 * replacement.
 */
export const UNSTARTED_PER_WORKER = 48;

export interface PoolOptions {
  script: string;
  size: number;
  memoryLimitMb: number;
}

/** Why a worker ended, and which execution (if any) made it end. */
export interface WorkerStop {
  culprit: string | null;
  reason: string;
  /**
   * No execution caused it (a build that never finished loading, an exception thrown outside any
   * execution): none is blamed, even when one ran there.
   */
  noCulprit?: boolean;
}

export class PoolWorker {
  readonly running = new Set<string>();
  /** Executions sent to run that have not reported their start yet. */
  readonly unstarted = new Set<string>();
  /** Running executions by their activity slot. */
  readonly slots = new Map<number, string>();
  /** The callback count at the last look, to tell a stuck thread from a busy one. */
  lastTicks = -1;
  readonly versions = new Set<number>();
  /** Builds sent to load and not yet answered, with when they were sent. */
  readonly loading = new Map<number, number>();
  readonly contexts = new Set<string>();
  /** Set before the pool terminates the worker on purpose, or when user code ends it. */
  stop: WorkerStop | null = null;
  private outbox: ToWorker[] = [];
  private transfer: ArrayBuffer[] = [];

  /** The thread's id, kept because the Worker object forgets it once the thread ends. */
  readonly id: number;

  constructor(
    readonly thread: Worker,
    /** The runtime's channel to the worker (worker.ts); the thread's own port is user code's. */
    readonly port: MessagePort,
    readonly activity: Int32Array,
  ) {
    this.id = thread.threadId;
  }

  /** The execution whose code holds the thread now, if any. */
  holdingThread(): string | null {
    return Atomics.load(this.activity, ACTIVITY_BUSY) === 1 ? (this.slots.get(Atomics.load(this.activity, ACTIVITY_SLOT)) ?? null) : null;
  }

  /** The execution whose code has held the thread since the last look, if any. */
  blockedBy(): string | undefined {
    const ticks = Atomics.load(this.activity, ACTIVITY_TICKS);
    const same = ticks === this.lastTicks;
    this.lastTicks = ticks;
    return same ? (this.holdingThread() ?? undefined) : undefined;
  }

  send(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (message.t === "load") this.loading.set(message.version, Date.now());
    if (this.outbox.length === 0) setImmediate(() => this.flush());
    this.outbox.push(message);
    this.transfer.push(...transfer);
  }

  private flush(): void {
    if (this.outbox.length === 0) return;
    const messages = this.outbox;
    const transfer = this.transfer;
    this.outbox = [];
    this.transfer = [];
    // The tick's requests travel in one buffer, moved rather than cloned: each is a view into a
    // slab (encodeRequest), which the structured clone would copy whole.
    const requests = gatherBytes(messages, (m) => (m.t === "run" ? m.request : null), (m, copy) => {
      if (m.t === "run") m.request = copy;
    });
    if (requests) transfer.push(requests);
    this.port.postMessage(messages, transfer);
  }
}

/**
 * A fixed number of worker threads, each running many executions. A worker that ends for any
 * reason is replaced at once; `onStop` learns which executions it took with it.
 */
export class WorkerPool {
  readonly workers: PoolWorker[] = [];
  private closing = false;

  constructor(
    private readonly options: PoolOptions,
    private readonly onMessages: (w: PoolWorker, messages: FromWorker[]) => void,
    private readonly onStop: (w: PoolWorker, stop: WorkerStop) => void,
  ) {
    setWorkerHeapFlags(); // the bin did already; a runtime made in-process (tests, benches) did not
    for (let i = 0; i < options.size; i++) this.workers.push(this.spawn());
  }

  private spawn(): PoolWorker {
    const activity = new Int32Array(new SharedArrayBuffer(3 * 4));
    const { port1: port, port2 } = new MessageChannel();
    const thread = new Worker(this.options.script, {
      workerData: { activity, port: port2 },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: this.options.memoryLimitMb, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      stdout: true,
      stderr: false,
    });
    // What user code writes to stdout itself (console.* goes to the execution's log) goes to
    // stderr: `serve --json` keeps stdout to its own lines. Not by pipe(), which puts four
    // listeners per worker on process.stderr (Node warns of a leak from the sixth worker on).
    thread.stdout.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    const w = new PoolWorker(thread, port, activity);
    const received = (messages: FromWorker[]) => {
      for (const m of messages) if (m.t === "fatal") w.stop = { culprit: m.id, reason: m.reason, noCulprit: m.id === null };
      this.onMessages(w, messages);
    };
    port.on("message", received);
    port.unref();
    let told = false;
    thread.on("message", () => {
      if (!told) process.stderr.write("refract: a flow's code posted a message to its worker's parentPort; Refract ignores such messages\n");
      told = true;
    });
    thread.on("error", (err: Error & { code?: string }) => {
      if (w.stop) return;
      w.stop =
        err.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? // The heap ran out while some execution's code held the thread: that one allocated last.
            { culprit: w.holdingThread(), reason: `the worker's heap limit (--memory-limit ${this.options.memoryLimitMb} MB) was exceeded` }
          : { culprit: null, reason: `the worker failed: ${err.message}` };
    });
    thread.on("exit", (code) => {
      // What the worker posted last (a fatal's reason, the reports before it) may still wait on
      // the channel, which unlike the thread's own port is not drained before "exit".
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) received(m.message);
      port.close();
      const i = this.workers.indexOf(w);
      if (i >= 0 && !this.closing) this.workers[i] = this.spawn();
      this.onStop(w, w.stop ?? { culprit: null, reason: `the worker exited with code ${code}` });
    });
    thread.unref();
    return w;
  }

  /**
   * A worker that is not loading a build (top-level code that is slow or never returns would hold
   * the execution), then the one with the fewest executions waiting to start, then running.
   */
  pick(): PoolWorker {
    let best = this.workers[0];
    for (const w of this.workers) {
      const loading = w.loading.size > 0;
      const bestLoading = best.loading.size > 0;
      if (loading !== bestLoading) {
        if (bestLoading) best = w;
      } else if (w.unstarted.size < best.unstarted.size || (w.unstarted.size === best.unstarted.size && w.running.size < best.running.size)) best = w;
    }
    return best;
  }

  /** Some worker may be sent another execution to run now (UNSTARTED_PER_WORKER). */
  canTakeRun(): boolean {
    return this.workers.some((w) => w.unstarted.size < UNSTARTED_PER_WORKER);
  }

  /** Ends a worker now (time limit, forced cancel); its executions end through `onStop`. */
  terminate(w: PoolWorker, stop: WorkerStop): void {
    if (!w.stop) w.stop = stop;
    void w.thread.terminate();
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.thread.terminate()));
  }
}
