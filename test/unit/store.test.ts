import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { decode, encode } from "@msgpack/msgpack";
import { STOPPED_BEFORE_FINISH } from "../../protocol/executions";
import { encodeRequest } from "../../server/src/runtime/messages";
import { payloadResult } from "../../server/src/runtime/triggerPayload";
import { AppendFile } from "../../server/src/store/appendFile";
import { LogSearch } from "../../server/src/store/logs";
import { ExecutionStore, journalLine } from "../../server/src/store/executions";
import { fillDisk, tmpDir, waitFor } from "../helpers";

const scope = { flowConfigId: "fc", flowId: "f", flowName: "Flow", instanceId: "in", customerId: "c", integrationId: "i", isTestExecution: false };
const accept = (store: ExecutionStore, id: string, startedAt: number, request: Uint8Array | null) => store.accept(id, scope, "WEBHOOK", startedAt, request);

describe("execution store (ARCHITECTURE.md, Storage)", () => {
  it("AppendFile: appends in order, reports offsets, writes each tick's appends at the end of the tick, and close() writes what is pending", async () => {
    const file = path.join(tmpDir("append"), "f.bin");
    const f = new AppendFile(file);
    assert.equal(f.append(Buffer.from("abc")), 0);
    assert.equal(f.append(Buffer.from("de")), 3);
    assert.equal(fs.readFileSync(file, "utf8"), "", "nothing is written before the end of the tick");
    const flushed = f.flushed();
    f.append(Buffer.from("!"));
    await flushed;
    assert.equal(fs.readFileSync(file, "utf8"), "abcde!", "one batch per tick, including what came after flushed() was asked");
    await f.flushed(); // nothing pending: resolves at once
    f.append(Buffer.from("?"));
    await f.close();
    assert.equal(fs.readFileSync(file, "utf8"), "abcde!?");
    const again = new AppendFile(file);
    assert.equal(again.append(Buffer.from("f")), 7, "offsets continue after a reopen");
    await again.close();
    const text = new AppendFile(path.join(path.dirname(file), "t.ndjson"));
    text.appendText("é1\n");
    text.appendText("2\n");
    await text.flushed();
    assert.equal(fs.readFileSync(text.path, "utf8"), "é1\n2\n");
    await text.close();
    // Pieces of one buffer (a worker's step results of a tick), adjacent or not, with text between.
    const shared = Buffer.from("0123456789");
    const pieces = new AppendFile(path.join(path.dirname(file), "p.bin"));
    assert.deepEqual(
      [pieces.append(shared.subarray(0, 3)), pieces.append(shared.subarray(3, 5)), pieces.appendText("|"), pieces.append(shared.subarray(5, 7)), pieces.append(shared.subarray(8)), pieces.append(new Uint8Array(shared.buffer, shared.byteOffset + 7, 1))],
      [0, 3, 5, 6, 8, 10],
    );
    await pieces.close();
    assert.equal(fs.readFileSync(pieces.path, "utf8"), "01234|56897");
  });

  it("AppendFile: a write that fails (a full disk) loses nothing: what was not written goes out later, in order, and every offset stays true", async () => {
    const file = path.join(tmpDir("append-full"), "f.ndjson");
    const f = new AppendFile(file);
    f.appendText("one\n");
    await f.flushed();
    const empty = fillDisk(3); // the next write takes 3 bytes, then the disk is full
    try {
      assert.equal(f.appendText("two\n"), 4);
      assert.equal(f.append(Buffer.from("three\n")), 8);
      await assert.rejects(f.flushed(), /ENOSPC/);
      assert.match(String(f.failure), /ENOSPC/);
      assert.equal(fs.readFileSync(file, "utf8"), "one\ntwo");
      assert.equal(f.appendText("four\n"), 14, "offsets go on from what was appended, written or not");
      await assert.rejects(f.flushed(), /ENOSPC/, "tried again a second later: the disk is still full");
    } finally {
      empty();
    }
    await f.flushed();
    assert.equal(f.failure, null);
    assert.equal(fs.readFileSync(file, "utf8"), "one\ntwo\nthree\nfour\n");
    assert.equal(f.appendText("five\n"), 19);
    await f.close();
    assert.equal(fs.readFileSync(file, "utf8"), "one\ntwo\nthree\nfour\nfive\n");

    // Closed while the disk is still full: the lost bytes keep their place (a hole), so that an
    // offset handed out never points at bytes appended after the restart.
    const blobs = new AppendFile(path.join(path.dirname(file), "blobs.bin"), true);
    blobs.append(Buffer.from("kept"));
    await blobs.flushed();
    const stillFull = fillDisk();
    try {
      assert.equal(blobs.append(Buffer.from("lost")), 4);
      await blobs.close();
    } finally {
      stillFull();
    }
    const reopened = new AppendFile(blobs.path, true);
    assert.equal(reopened.append(Buffer.from("next")), 8, "appended after the lost bytes, not over them");
    await reopened.close();
    assert.deepEqual(fs.readFileSync(blobs.path), Buffer.from("kept\0\0\0\0next"));
  });

  it("a full disk at a day's first write loses no execution: the scope line its executions need is written with them once the disk takes it", async () => {
    const dir = tmpDir("store-full");
    const store = new ExecutionStore(dir);
    await store.open();
    const at = Date.now();
    const empty = fillDisk();
    try {
      await assert.rejects(accept(store, "a", at, Buffer.from("request a")), /ENOSPC/);
      assert.match(String(store.writeError), /ENOSPC/, "the store says it cannot write, so that new executions are refused");
    } finally {
      empty();
    }
    await waitFor(() => store.writeError === null, 5000, "the retry");
    await accept(store, "b", at + 1, Buffer.from("request b"));
    await store.close();

    const reopened = new ExecutionStore(dir);
    assert.deepEqual(await reopened.open(), ["a", "b"], "both are there, queued");
    for (const [id, text] of [["a", "request a"], ["b", "request b"]]) {
      const x = reopened.executions.get(id)!;
      assert.equal((await reopened.readBlob(x, x.request!))?.toString(), text, `the request of ${id} is where its offset says`);
    }
    await reopened.close();
  });

  it("writes each journal entry as JSON.stringify does, whatever its strings hold", () => {
    const odd = 'quote " backslash \\ newline \n tab \t nul \u0000 é 😀 \u2028';
    const entries: Parameters<typeof journalLine>[0][] = [
      { e: "scope", ...scope, flowName: odd },
      { e: "accepted", id: "SW5zdGFuY2U6MQ==", scope: "fc", invokeType: "WEBHOOK", startedAt: 1795861599305, request: { offset: 0, length: 1290 } },
      { e: "accepted", id: odd, scope: odd, invokeType: "SCHEDULED", startedAt: 0, request: null },
      { e: "accepted", id: "x", scope: "fc", invokeType: "CROSS_FLOW", startedAt: 1, request: null, links: { invokedBy: odd, retryCount: 2 } },
      { e: "started", id: odd, at: 1795861599306, versionNumber: 12 },
      { e: "step", id: "x", stepName: "onTrigger", startedAt: 1, endedAt: 2, hasError: false, offset: 2 ** 40, length: 0 },
      { e: "step", id: "x", stepName: "onExecution", startedAt: 1, endedAt: 2, hasError: true, offset: 7, length: 9 },
      { e: "step", id: odd, stepName: "onTrigger", startedAt: 1, endedAt: 2, hasError: false, context: odd },
      { e: "ended", id: "x", at: 3, status: "SUCCESS", resultType: "COMPLETED", error: null, logs: { offset: 0, length: Number.MAX_SAFE_INTEGER } },
      { e: "ended", id: "x", at: 3, status: "ERROR", resultType: "ERROR", error: odd, logs: null },
      { e: "logs", id: "x", logs: { offset: 5, length: 6 } },
    ];
    for (const entry of entries) assert.equal(journalLine(entry), JSON.stringify(entry) + "\n", entry.e);
  });

  it("keeps exact times however far they are from the process's start (the index stores them relative to it)", async () => {
    const dir = tmpDir("store-times");
    const times = [Date.UTC(2020, 0, 1, 0, 0, 0, 1), Date.now() - 40 * 86_400_000, Date.now() + 1, Date.UTC(2099, 11, 31, 23, 59, 59, 999)];
    const store = new ExecutionStore(dir);
    await store.open();
    for (const [i, at] of times.entries()) {
      await accept(store, `t${i}`, at, encode({ i }));
      store.started(`t${i}`, at + 1, 1);
      store.stepResult(`t${i}`, "onTrigger", encode({ data: "{}" }), at + 1, at + 2, false);
      store.appendLogs(`t${i}`, JSON.stringify({ at, severity: "INFO", stepName: "onTrigger", executionId: `t${i}`, message: `line ${i}` }) + "\n");
      store.ended(`t${i}`, "SUCCESS", "COMPLETED", null, at + 3);
    }
    await store.close();
    const reopened = new ExecutionStore(dir);
    await reopened.open();
    for (const s of [store, reopened]) {
      for (const [i, at] of times.entries()) {
        const x = s.executions.get(`t${i}`)!;
        assert.deepEqual([x.startedAt, x.runStartedAt, x.steps[0].startedAt, x.steps[0].endedAt, x.endedAt], [at, at + 1, at + 1, at + 2, at + 3]);
        assert.equal(x.day, new Date(at).toISOString().slice(0, 10));
        assert.deepEqual(await reopened.readBlob(x, x.request!), Buffer.from(encode({ i })));
        const logs = fs.readFileSync(path.join(dir, "executions", x.day, "logs.ndjson"));
        assert.match(logs.subarray(x.logs!.offset, x.logs!.offset + x.logs!.length).toString(), new RegExp(`line ${i}`));
      }
    }
  });

  it("keeps executions, step results and logs across a reopen", async () => {
    const dir = tmpDir("store");
    const day = Date.UTC(2026, 10, 20, 10);
    const store = new ExecutionStore(dir);
    await store.open();
    await accept(store, "a", day, encode({ method: "POST" }));
    store.started("a", day + 5, 3);
    store.stepResult("a", "onTrigger", encode({ data: "{}", contentType: "application/json" }), day + 5, day + 6, false);
    store.stepResult("a", "onExecution", encode({ data: "ok", contentType: "text/plain" }), day + 6, day + 9, false);
    store.appendLogs("a", JSON.stringify({ at: day + 5, severity: "INFO", stepName: "onTrigger", executionId: "a", message: "hello" }) + "\n");
    store.ended("a", "SUCCESS", "COMPLETED", null, day + 9);
    await store.close();

    const reopened = new ExecutionStore(dir);
    assert.deepEqual(await reopened.open(), []);
    const x = reopened.executions.get("a")!;
    assert.equal(x.status, "SUCCESS");
    assert.equal(x.versionNumber, 3);
    assert.equal(x.day, "2026-11-20");
    assert.deepEqual(x.steps.map((s) => s.stepName), ["onTrigger", "onExecution"]);
    assert.ok((await reopened.readBlob(x, x.steps[1]))!.includes(Buffer.from("ok")));
    assert.deepEqual((await new LogSearch(reopened).ofExecution(x)).map((l) => l.message), ["hello"]);
    await reopened.close();
  });

  it("makes an onTrigger result that is the payload as received from the request and the context it names, and none when its context line is lost", async () => {
    const dir = tmpDir("store-payload");
    const t = Date.UTC(2026, 10, 22, 9);
    const request = encodeRequest({ method: "POST", headers: { "Content-Type": "application/json" }, queryParameters: { q: "1" }, body: Buffer.from('{"a":1}'), contentType: "application/json", pathFragment: "p", invokeUrl: "http://127.0.0.1:1/trigger/x/p?q=1" });
    const context = { webhookUrls: { Flow: "http://127.0.0.1:1/trigger/x" }, webhookApiKeys: { Flow: [] }, customer: { id: "c", externalId: null, name: "C" }, instance: { id: "in", name: "I" }, user: { id: "u", email: "u@h", name: "u", externalId: "u" }, integration: { id: "i", name: "N", versionSequenceId: "i", externalVersion: "3" }, flow: { id: "f", name: "Flow", stableId: "flow" } };
    const store = new ExecutionStore(dir);
    await store.open();
    for (const id of ["a", "b"]) {
      await accept(store, id, t, request);
      store.payloadStep(id, "fc:3:0", { ...context, configVars: { secret: "x" } } as typeof context, t + 1, t + 2);
    }
    await store.close();
    const expected = Buffer.from(payloadResult(request, context, "a", t));
    assert.equal((decode(expected) as any).contentType, "application/json");

    const journal = path.join(dir, "executions", "2026-11-22", "journal.ndjson");
    const lines = fs.readFileSync(journal, "utf8").split("\n");
    assert.deepEqual(JSON.parse(lines.find((l) => l.startsWith('{"e":"context"'))!), { e: "context", key: "fc:3:0", context }, "once, and only what payloads hold");
    const reopened = new ExecutionStore(dir);
    await reopened.open();
    const x = reopened.executions.get("a")!;
    assert.deepEqual(x.steps.map((st) => [st.stepName, st.startedAt, st.endedAt, st.hasError]), [["onTrigger", t + 1, t + 2, false]]);
    assert.deepEqual(await reopened.readStepResult(x, x.steps[0]), expected);
    await reopened.close();

    fs.writeFileSync(journal, lines.filter((l) => !l.startsWith('{"e":"context"')).join("\n"));
    const damaged = new ExecutionStore(dir);
    await damaged.open();
    const y = damaged.executions.get("b")!;
    assert.equal(y.steps[0].payload, null);
    assert.equal(await damaged.readStepResult(y, y.steps[0]), null, "no result rather than a wrong one");
    await damaged.close();
  });

  it("after a crash: cuts torn tails, ends running executions in ERROR, and hands back queued ones in arrival order", async () => {
    const dir = tmpDir("crash");
    const t = Date.UTC(2026, 10, 21, 8);
    const store = new ExecutionStore(dir);
    await store.open();
    await accept(store, "running", t, null);
    store.started("running", t + 1, 1);
    await accept(store, "queued-2", t + 20, null);
    await accept(store, "queued-1", t + 10, null);
    await store.flushed();
    // A crash mid-write: half a journal entry and half a log line, with no newline.
    const dayDir = path.join(dir, "executions", "2026-11-21");
    fs.appendFileSync(path.join(dayDir, "journal.ndjson"), '{"e":"ended","id":"queued-1","at":');
    fs.appendFileSync(path.join(dayDir, "logs.ndjson"), '{"at":1,"sever');
    // Days half made or half deleted (a crash during retention): no journal, or a file for a day folder.
    const executions = path.join(dir, "executions");
    fs.mkdirSync(path.join(executions, "2026-11-19"));
    fs.mkdirSync(path.join(executions, "2026-11-20"));
    fs.writeFileSync(path.join(executions, "2026-11-20", "logs.ndjson"), "");
    fs.writeFileSync(path.join(executions, "2026-11-18"), "not a folder");
    // A journal line that parses but is no entry.
    fs.mkdirSync(path.join(executions, "2026-11-17"));
    fs.writeFileSync(path.join(executions, "2026-11-17", "journal.ndjson"), "null\n5\n");

    const reopened = new ExecutionStore(dir);
    const said: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (said.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      assert.deepEqual(await reopened.open(undefined, t + 100), ["queued-1", "queued-2"]);
    } finally {
      process.stderr.write = write;
    }
    for (const [name, bytes] of [["journal.ndjson", 34], ["logs.ndjson", 14]] as const) {
      assert.ok(said.some((l) => l.includes(`cut ${bytes} bytes of an unfinished write (a crash?) from the end of ${path.join(dayDir, name)}`)), `it says what it cut of ${name}: ${said}`);
    }
    const running = reopened.executions.get("running")!;
    assert.equal(running.status, "ERROR");
    assert.equal(running.resultType, "ERROR");
    assert.equal(running.error, STOPPED_BEFORE_FINISH);
    assert.equal(running.endedAt, t + 100);
    assert.equal(reopened.executions.get("queued-1")!.status, "QUEUED");
    for (const name of ["journal.ndjson", "logs.ndjson"]) {
      const content = fs.readFileSync(path.join(dayDir, name), "utf8");
      assert.ok(content === "" || content.endsWith("\n"), `${name} ends at a whole line`);
    }
    await reopened.close();
    // The ERROR it recorded is itself durable.
    const third = new ExecutionStore(dir);
    await third.open();
    assert.equal(third.executions.get("running")!.error, STOPPED_BEFORE_FINISH);
    await third.close();
  });

  it("deletes a whole day in one operation", async () => {
    const dir = tmpDir("retention");
    const store = new ExecutionStore(dir);
    await store.open();
    await accept(store, "old", Date.UTC(2026, 0, 1), encode({}));
    await accept(store, "new", Date.UTC(2026, 0, 2), encode({}));
    assert.deepEqual(store.listDays(), ["2026-01-01", "2026-01-02"]);
    const old = store.executions.get("old")!;
    await store.deleteDay("2026-01-01");
    assert.deepEqual(store.listDays(), ["2026-01-02"]);
    assert.equal(store.executions.has("old"), false);
    assert.equal(store.executions.has("new"), true);
    assert.equal(await store.readBlob(old, old.request!), null, "its blobs are gone too");
    await store.close();
  });
});
