import * as fs from "node:fs";
import { SEVERITIES, Severity } from "../../../protocol/executions";

/**
 * A day's log index, `logs.idx`, beside its `logs.ndjson`: one record of two float64s per line,
 * `at * 8 + severity` and the offset where the line ends. Histograms over time and severity read
 * it (16 bytes a line) instead of the lines (about 200). It is an accelerator only: when it does
 * not end where the log file ends (a crash between the two writes, a data dir from before it),
 * readers scan the log file instead.
 */
export const RECORD_BYTES = 16;

/**
 * The index records, as stored, of NDJSON lines appended at `offset` (each line starts
 * `{"at":<ms>,"severity":"<S>"`). Written into a slice of Node's buffer pool: a typed array of
 * its own would be one more allocation outside the heap for every execution's lines.
 */
export function indexRecords(lines: string, offset: number): Buffer {
  const count = countLines(lines);
  const bytes = Buffer.allocUnsafe(count * RECORD_BYTES); // pool slices are 8-byte aligned
  const records = new Float64Array(bytes.buffer, bytes.byteOffset, count * 2);
  const ascii = Buffer.byteLength(lines) === lines.length; // then string indexes are byte offsets
  let end = offset;
  let lineStart = 0;
  for (let n = 0; n < count; n++) {
    const lineEnd = lines.indexOf("\n", lineStart);
    const head = lineHead(lines, lineStart, lineEnd);
    end = ascii ? offset + lineEnd + 1 : end + Buffer.byteLength(lines.slice(lineStart, lineEnd + 1));
    records[2 * n] = head >= 0 ? head : SEVERITIES.indexOf("INFO"); // Refract writes every line with its head
    records[2 * n + 1] = end;
    lineStart = lineEnd + 1;
  }
  return bytes;
}

/**
 * A day's index as records (`[head, end]` per line, in file order); null when it does not match
 * the log file of `logSize` bytes.
 */
export async function readIndex(file: string, logSize: number): Promise<Float64Array | null> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch {
    return null;
  }
  if (bytes.length % RECORD_BYTES !== 0) return null;
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : Buffer.from(bytes);
  const records = new Float64Array(aligned.buffer, aligned.byteOffset, aligned.length / 8);
  return (records.length ? records[records.length - 1] : 0) === logSize ? records : null;
}

/** The line of `records` (an index, see readIndex) that holds byte `offset`: the first whose end is past it. */
export function lineAt(records: Float64Array, offset: number): number {
  let low = 0;
  let high = records.length / 2;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (records[2 * mid + 1] <= offset) low = mid + 1;
    else high = mid;
  }
  return low;
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * The time and severity from the head every log line Refract writes starts with
 * (`{"at":<ms>,"severity":"<S>",…`), read in place without parsing the line, packed as
 * `at * 8 + severity index` (as the index stores them); -1 when the line does not start so.
 */
export function lineHead(text: string, lineStart: number, lineEnd: number): number {
  if (!text.startsWith(HEAD, lineStart)) return -1;
  let at = 0;
  let i = lineStart + HEAD.length;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) at = at * 10 + c - 48;
  // Each severity has its own first letter.
  const severity = i + SEVERITY.length < lineEnd ? SEVERITY_INDEX[text.charCodeAt(i + SEVERITY.length)] : undefined;
  return severity === undefined ? -1 : at * 8 + severity;
}

export const headTime = (packed: number): number => (packed - (packed % 8)) / 8;
export const headSeverity = (packed: number): Severity => SEVERITIES[packed % 8];

const HEAD = '{"at":';
export const SEVERITY = ',"severity":"';
const SEVERITY_INDEX: Record<number, number> = Object.fromEntries(SEVERITIES.map((s, i) => [s.charCodeAt(0), i]));
