import * as fs from "node:fs";

/**
 * An append-only file that batches: everything appended in one tick goes out in one `writev`,
 * and `flushed()` resolves once the bytes appended so far are handed to the OS (no fsync: a
 * killed process loses nothing the OS has; a torn tail after power loss is cut at start-up).
 */
export class AppendFile {
  /** Size including bytes not written yet: the offset the next `append` gets. */
  size: number;
  /** Appended but not yet handed to the OS (text counts its UTF-16 length): the backpressure signal. */
  pendingBytes = 0;
  private readonly fd: number;
  private batch: Buffer[] = [];
  private text = "";
  /** What this batch added to pendingBytes. */
  private batchPending = 0;
  private batchWaiters: Array<(err?: Error) => void> = [];
  private writing = false;
  private scheduled = false;
  private closed = false;

  constructor(readonly path: string) {
    this.fd = fs.openSync(path, "a");
    this.size = fs.fstatSync(this.fd).size;
  }

  /** Appends and returns the offset the bytes will have in the file. */
  append(bytes: Buffer | Uint8Array): number {
    const offset = this.size;
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size += buf.length;
    this.batch.push(buf);
    this.added(buf.length);
    return offset;
  }

  /**
   * Appends text, for NDJSON files (which need no offsets, so `size` does not follow it): the
   * lines of one tick become one Buffer.
   */
  appendText(text: string): void {
    this.text += text;
    this.added(text.length);
  }

  private added(n: number): void {
    this.pendingBytes += n;
    this.batchPending += n;
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flushed(): Promise<void> {
    if (this.batch.length === 0 && !this.text && !this.writing) return Promise.resolve();
    return new Promise((resolve, reject) => this.batchWaiters.push((err) => (err ? reject(err) : resolve())));
  }

  private flush(): void {
    this.scheduled = false;
    if (this.text) {
      this.batch.push(Buffer.from(this.text));
      this.text = "";
    }
    if (this.writing || this.batch.length === 0) return;
    const buffers = this.batch;
    const waiters = this.batchWaiters;
    const total = this.batchPending;
    this.batch = [];
    this.batchWaiters = [];
    this.batchPending = 0;
    this.writing = true;
    const done = (err: Error | null) => {
      this.writing = false;
      this.pendingBytes -= total;
      for (const w of waiters) w(err ?? undefined);
      if (err) process.stderr.write(`refract: writing ${this.path} failed: ${err.message}\n`);
      if (this.batch.length > 0 || this.text) this.flush();
      else for (const w of this.batchWaiters.splice(0)) w(); // waited during the write, with nothing new
    };
    writeAll(this.fd, buffers, done);
  }

  /** Waits for pending writes, then closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushed();
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

function writeAll(fd: number, buffers: Buffer[], done: (err: Error | null) => void): void {
  fs.writev(fd, buffers, (err, written) => {
    if (err) return done(err);
    // Regular files normally take a writev whole; carry on from where a short write stopped.
    let rest = buffers;
    while (rest.length && written >= rest[0].length) {
      written -= rest[0].length;
      rest = rest.slice(1);
    }
    if (rest.length === 0) return done(null);
    rest = [rest[0].subarray(written), ...rest.slice(1)];
    writeAll(fd, rest, done);
  });
}

/**
 * Cuts a torn tail (everything after the last newline) of an NDJSON file, reading only its end.
 * Returns the file's size afterwards.
 */
export function cutTornTail(path: string): number {
  let fd: number;
  try {
    fd = fs.openSync(path, "r+");
  } catch {
    return 0;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const chunk = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      fs.readSync(fd, chunk, 0, end - start, start);
      const newline = chunk.subarray(0, end - start).lastIndexOf(0x0a);
      if (newline >= 0) {
        if (start + newline + 1 < size) fs.ftruncateSync(fd, start + newline + 1);
        return start + newline + 1;
      }
      end = start;
    }
    if (size > 0) fs.ftruncateSync(fd, 0);
    return 0;
  } finally {
    fs.closeSync(fd);
  }
}
