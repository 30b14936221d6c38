// Step results as stored and served: MessagePack `{data, contentType}` (spectral-runtime.md §6,
// prismatic-api/clients.md §3).

export const isJson = (ct: string) => /^application\/(.+\+)?json\b/i.test(ct);
export const isText = (ct: string) => /^text\/|^application\/(.+\+)?(xml|x-www-form-urlencoded)\b/i.test(ct);

/**
 * A step result as Prismatic's clients read it: `{data, contentType}` with JSON as a string
 * holding the JSON text, text as a string, binary as `bin`; `contentType` omitted, never null.
 */
export function encodeResult(data: unknown, contentType: unknown): Uint8Array {
  const ct = typeof contentType === "string" && contentType ? contentType : undefined;
  if (data instanceof Uint8Array || (typeof data === "string" && ct && !isJson(ct))) return packResult(data, ct);
  return packResult(JSON.stringify(data) ?? "null", ct ?? "application/json");
}

/**
 * MessagePack for the one shape step results have, written directly: the generic encoder
 * counts and copies UTF-8 in JavaScript, which made it the costliest part of a trivial
 * execution. The output is plain MessagePack (map, str, bin); tests decode it with
 * @msgpack/msgpack. It owns its whole ArrayBuffer, so it can be transferred.
 */
export function packResult(data: string | Uint8Array, contentType: string | undefined): Uint8Array {
  const dataLength = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
  const ctLength = contentType === undefined ? 0 : Buffer.byteLength(contentType);
  const dataHeader = typeof data === "string" && dataLength < 32 ? 1 : dataLength < 0x100 ? 2 : dataLength < 0x10000 ? 3 : 5;
  const ctHeader = ctLength < 32 ? 1 : ctLength < 0x100 ? 2 : 3;
  const out = Buffer.allocUnsafeSlow(1 + 5 + dataHeader + dataLength + (contentType === undefined ? 0 : 12 + ctHeader + ctLength));
  let at = 0;
  out[at++] = contentType === undefined ? 0x81 : 0x82;
  at = writeStr(out, at, "data", 4);
  if (typeof data === "string") at = writeStr(out, at, data, dataLength);
  else {
    at = writeHeader(out, at, dataLength, 0xc4, 0xc5, 0xc6);
    out.set(data, at);
    at += dataLength;
  }
  if (contentType !== undefined) {
    at = writeStr(out, at, "contentType", 11);
    writeStr(out, at, contentType, ctLength);
  }
  return out;
}

function writeStr(out: Buffer, at: number, text: string, byteLength: number): number {
  if (byteLength < 32) out[at++] = 0xa0 | byteLength;
  else at = writeHeader(out, at, byteLength, 0xd9, 0xda, 0xdb);
  return at + out.write(text, at, "utf8");
}

/** An 8-, 16- or 32-bit length header (str8/16/32 or bin8/16/32). */
function writeHeader(out: Buffer, at: number, length: number, one: number, two: number, four: number): number {
  if (length < 0x100) {
    out[at] = one;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = two;
    out.writeUInt16BE(length, at + 1);
    return at + 3;
  }
  out[at] = four;
  out.writeUInt32BE(length, at + 1);
  return at + 5;
}

