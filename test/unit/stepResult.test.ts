import * as assert from "node:assert/strict";
import { decode } from "@msgpack/msgpack";
import { encodeResult, packResult } from "../../server/src/runtime/stepResult";

/** Decoded, with bin as a plain Uint8Array (the decoder hands back views of its input). */
function unpack(bytes: Uint8Array): unknown {
  const value = decode(bytes) as { data: unknown };
  return value.data instanceof Uint8Array ? { ...value, data: new Uint8Array(value.data) } : value;
}

describe("step results as MessagePack (spectral-runtime.md §6)", () => {
  it("writes standard MessagePack for strings and bytes of every header size, with and without a content type", () => {
    for (const length of [0, 1, 31, 32, 255, 256, 65_535, 65_536, 200_000]) {
      const text = "é".repeat(Math.floor(length / 2)) + "x".repeat(length % 2); // multi-byte UTF-8
      assert.deepEqual(unpack(packResult(text, "text/plain")), { data: text, contentType: "text/plain" }, `string of ${length} bytes`);
      const bytes = new Uint8Array(length).map((_, i) => i % 251);
      assert.deepEqual(unpack(packResult(bytes, undefined)), { data: bytes }, `bin of ${length} bytes`);
      const ct = "a".repeat(length % 300);
      assert.deepEqual(unpack(packResult("{}", ct)), { data: "{}", contentType: ct }, `content type of ${ct.length} bytes`);
    }
  });

  it("owns its whole buffer, so it can be transferred to the main thread", () => {
    const packed = packResult("x".repeat(1000), "application/json");
    assert.equal(packed.byteOffset, 0);
    assert.equal(packed.byteLength, packed.buffer.byteLength);
  });

  it("stores JSON as a string holding the JSON text, text as text, bytes as bin, and never a null content type", () => {
    assert.deepEqual(unpack(encodeResult({ a: [1, 2] }, undefined)), { data: '{"a":[1,2]}', contentType: "application/json" });
    assert.deepEqual(unpack(encodeResult(undefined, undefined)), { data: "null", contentType: "application/json" });
    assert.deepEqual(unpack(encodeResult("plain", "text/plain")), { data: "plain", contentType: "text/plain" });
    assert.deepEqual(unpack(encodeResult("quoted", undefined)), { data: '"quoted"', contentType: "application/json" });
    assert.deepEqual(unpack(encodeResult(Buffer.from([1, 2]), "image/png")), { data: new Uint8Array([1, 2]), contentType: "image/png" });
    assert.deepEqual(unpack(encodeResult(Buffer.from([1, 2]), null)), { data: new Uint8Array([1, 2]) });
  });
});
