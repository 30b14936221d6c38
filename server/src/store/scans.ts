import { Worker } from "node:worker_threads";
import type { DayTally, DayTallyTask, ScanTask, StoredLog, StretchFindTask } from "./logs";

/**
 * Threads that search days of logs by text (store/scanWorker.ts), so that a histogram, a count or
 * a page of a search term reads its days on both cores instead of one, and the main thread keeps
 * answering meanwhile. Started on first use; each thread takes the next day when it is done
 * with one.
 */
export class LogScans {
  private threads: Worker[] = [];
  private idle: Worker[] = [];
  private queue: Array<{ task: ScanTask } & Call> = [];
  private readonly running = new Map<Worker, Call>();
  private closed = false;

  constructor(
    private readonly script: string,
    private readonly size: number,
  ) {}

  /** Tallies each day in a thread; resolves with their tallies in the same order. */
  tally(tasks: DayTallyTask[]): Promise<DayTally[]> {
    return Promise.all(tasks.map((task) => this.submit(task) as Promise<DayTally>));
  }

  /** The matching lines of a stretch of a day, in scan order, up to the task's limit. */
  find(task: StretchFindTask): Promise<StoredLog[]> {
    return this.submit(task) as Promise<StoredLog[]>;
  }

  private submit(task: ScanTask): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("The log store is closed"));
      this.queue.push({ task, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.queue.length) {
      const thread = this.idle.pop() ?? (this.threads.length < this.size ? this.spawn() : null);
      if (!thread) return;
      const { task, resolve, reject } = this.queue.shift()!;
      this.running.set(thread, { resolve, reject });
      thread.postMessage(task);
    }
  }

  private spawn(): Worker {
    const thread = new Worker(this.script);
    thread.unref();
    this.threads.push(thread);
    thread.on("message", (m: { result: unknown } | { error: string }) => {
      const call = this.running.get(thread);
      this.running.delete(thread);
      if ("error" in m) call?.reject(new Error(m.error));
      else call?.resolve(m.result);
      this.idle.push(thread);
      this.next();
    });
    thread.on("error", (err) => this.running.get(thread)?.reject(err));
    thread.on("exit", () => {
      this.running.get(thread)?.reject(new Error("A log scan thread stopped"));
      this.running.delete(thread);
      this.threads = this.threads.filter((t) => t !== thread);
      this.idle = this.idle.filter((t) => t !== thread);
      this.next();
    });
    return thread;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const { reject } of this.queue.splice(0)) reject(new Error("The log store is closed"));
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

interface Call {
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}
