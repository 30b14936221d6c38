import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { decode } from "@msgpack/msgpack";
import { TestServer, copyFixture, postJson, rawRequest, startServer } from "../helpers";

/** A GET (or `method`) with any Host header. */
const get = (url: string, host?: string, method = "GET") => rawRequest(url, { method, headers: host ? { host } : {} });

describe("blob URLs (INTERFACES.md §5, prismatic-api/clients.md §3)", function () {
  let s: TestServer;
  let id: string;
  before(async () => {
    s = await startServer(copyFixture("basic"), { allowedHosts: ["tunnel.example"] });
    id = (await postJson(`${s.flows["Echo"]}/a?q=1`, { hello: "world" }, { "X-Custom": "yes" })).json.executionId;
    await s.waitForEnd(id);
  });
  after(() => s.stop());

  it("serves a step result's MessagePack on GET and its length on HEAD, with no token", async () => {
    const x = s.runtime.store.executions.get(id)!;
    const url = s.blobs.url(s.url, `/results/${id}/onExecution`);
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/x-msgpack");
    assert.deepEqual(decode(res.body), await s.step(x, "onExecution"));
    const head = await get(s.blobs.url(s.url, `/results/${id}/onExecution`), undefined, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers["content-length"]), x.steps[1].length);
    assert.ok(x.steps[1].length > 0);
    assert.equal(head.body.length, 0);
  });

  it("serves the trigger request as JSON with the body in base64", async () => {
    const res = await get(s.blobs.url(s.url, `/results/${id}/request`));
    assert.equal(res.status, 200);
    const payload = JSON.parse(res.body.toString());
    assert.deepEqual(JSON.parse(Buffer.from(payload.body, "base64").toString()), { hello: "world" });
    assert.equal(payload.contentType, "application/json");
    assert.equal(payload.headers["X-Custom"], "yes");
    assert.deepEqual(payload.queryParameters, { q: "1" });
    assert.equal(payload.method, "POST");
    assert.equal(payload.pathFragment, "a");
  });

  it("refuses a tampered, moved, unsigned or expired URL with 403", async () => {
    const good = s.blobs.url(s.url, `/results/${id}/onExecution`);
    const tampered = good.replace(/signature=(.)/, (_m, c: string) => `signature=${c === "A" ? "B" : "A"}`);
    assert.equal((await get(tampered)).status, 403);
    assert.equal((await get(good.replace("/onExecution?", "/onTrigger?"))).status, 403, "a signature is for one path");
    assert.equal((await get(good.replace(/expires=\d+/, "expires=99999999999"))).status, 403, "the expiry is signed too");
    assert.equal((await get(`${s.url}/results/${id}/onExecution`)).status, 403);
    // Other spellings of the same signature or expiry are other URLs (the decoders took them).
    const expires = new URL(good).searchParams.get("expires")!;
    for (const other of [`${good}%21%21%21`, good.replace("signature=", "signature=..."), good.replace(`expires=${expires}`, `expires=000${expires}`), good.replace(`expires=${expires}`, `expires=%2B${expires}`)]) {
      assert.equal((await get(other)).status, 403, other);
    }
    const expired = await get(s.blobs.url(s.url, `/results/${id}/onExecution`, -10));
    assert.equal(expired.status, 403);
    assert.match(JSON.parse(expired.body.toString()).error, /expired/);
  });

  it("answers only to Host names of this server (DNS-rebinding defence)", async () => {
    const url = s.blobs.url(s.url, `/results/${id}/onExecution`);
    const port = new URL(s.url).port;
    const evil = await get(url, "evil.example");
    assert.equal(evil.status, 403);
    assert.match(JSON.parse(evil.body.toString()).error, /Host "evil.example" is not this server/);
    assert.equal((await get(url, `localhost:${port}`)).status, 200);
    assert.equal((await get(url, `localhost:${Number(port) + 1}`)).status, 403, "another port is another server");
    assert.equal((await get(url, "tunnel.example")).status, 200, "an --allowed-host name");
  });

  it("answers 404 for an unknown execution or step and 405 to other methods", async () => {
    assert.equal((await get(s.blobs.url(s.url, "/results/nope/onExecution"))).status, 404);
    assert.equal((await get(s.blobs.url(s.url, "/results/%E0%A4%A/onExecution"))).status, 404, "an id that is not valid percent-encoding is just unknown");
    assert.equal((await get(s.blobs.url(s.url, `/results/${id}/onSomething`))).status, 404);
    assert.equal((await get(s.blobs.url(s.url, `/results/${id}/onExecution`), undefined, "DELETE")).status, 405);
  });

  it("streams a large result whole", async () => {
    const big = { text: "x".repeat(1024 * 1024) };
    const bigId = (await postJson(s.flows["Echo"], big)).json.executionId;
    const x = await s.waitForEnd(bigId);
    const res = await get(s.blobs.url(s.url, `/results/${bigId}/onExecution`));
    assert.equal(res.status, 200);
    assert.equal(res.body.length, x.steps[1].length);
    assert.ok(res.body.length > 1024 * 1024);
    assert.equal((JSON.parse((decode(res.body) as { data: string }).data) as { body: typeof big }).body.text.length, big.text.length);
  });

  it("answers 500 for a result its blob file was cut short of (it sent a length and then nothing, forever)", async () => {
    const cutId = (await postJson(s.flows["Echo"], { cut: true })).json.executionId;
    const x = await s.waitForEnd(cutId);
    fs.truncateSync(path.join(s.dataDir, "executions", x.day, "blobs.bin"), x.steps[1].offset + 10);
    const res = await get(s.blobs.url(s.url, `/results/${cutId}/onExecution`));
    assert.equal(res.status, 500);
    assert.match(JSON.parse(res.body.toString()).error, /^The stored onExecution result of execution .* is incomplete: its day's blobs.bin ends before it$/);
    assert.equal((await get(s.blobs.url(s.url, `/results/${cutId}/request`))).status, 200, "what comes before the cut is whole");
  });
});
