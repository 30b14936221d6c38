import * as fs from "node:fs";

/** Read from disk this much at a time. */
const CHUNK_BYTES = 1024 * 1024;
/**
 * Handed out this much at a time. A window's text is a string small enough for V8's young
 * generation (large strings go straight to the old one, which is collected rarely), so reading
 * hundreds of megabytes of NDJSON does not grow the heap.
 */
const WINDOW_BYTES = 64 * 1024;

/**
 * Reads the whole lines of [start, end) of an NDJSON file (a line that begins before `start` is
 * not read) in windows: `window(buf, from, to, fileOffset)` gets buf[from, to), whole lines that
 * begin at `fileOffset` in the file, valid until it returns. Windows come in file order, or
 * last first when `descending`. Stops when `window` returns false; resolves to whether it read
 * everything.
 */
export async function eachWindow(
  file: string,
  start: number,
  end: number,
  descending: boolean,
  window: (buf: Buffer, from: number, to: number, fileOffset: number) => boolean,
): Promise<boolean> {
  const handle = await fs.promises.open(file, "r");
  try {
    let from = start > 0 ? await nextLineStart(handle, start - 1, end) : start;
    let to = end;
    const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(0, to - from)));
    const cuts: number[] = [];
    while (from < to) {
      const size = Math.min(buf.length, to - from);
      const at = descending ? to - size : from;
      await readExactly(handle, buf, size, at);
      // Whole lines only: ascending drops the partial tail, descending the partial head.
      const first = descending && at !== from ? buf.subarray(0, size).indexOf(0x0a) + 1 : 0;
      const last = !descending && at + size !== to ? buf.subarray(0, size).lastIndexOf(0x0a) + 1 : size;
      // No whole line in the chunk (descending: its first newline is the one that ends it): one
      // line is longer than the chunk. Going on would read the same chunk again, for ever.
      if ((descending && at !== from && (first === 0 || first === size)) || last === 0) throw new Error(`A line longer than ${CHUNK_BYTES} bytes in ${file}`);
      cuts.length = 0;
      for (let w = first; w < last; ) {
        cuts.push(w);
        w = w + WINDOW_BYTES < last ? buf.subarray(0, last).indexOf(0x0a, w + WINDOW_BYTES - 1) + 1 || last : last;
      }
      cuts.push(last);
      for (let i = 0; i < cuts.length - 1; i++) {
        const k = descending ? cuts.length - 2 - i : i;
        if (!window(buf, cuts[k], cuts[k + 1], at + cuts[k])) return false;
      }
      if (descending) to = at + first;
      else from = at + last;
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
    if (bytesRead === 0) throw new Error("A file shrank while being read");
    done += bytesRead;
  }
}
