import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ExecutionActionError } from "../../server/src/runtime/invocation";
import { UNSTARTED_PER_WORKER } from "../../server/src/runtime/pool";
import { ExecutionRecord } from "../../server/src/store/executions";
import { TestServer, copyFixture, postJson, startServer, waitFor } from "../helpers";

const executionsOf = (s: TestServer, flowName: string) => [...s.runtime.store.executions.values()].filter((x) => x.scope.flowName === flowName);
/** The most executions that ran at the same moment (an end at t comes before a start at t). */
const overlaps = (xs: ExecutionRecord[]) => {
  const events = xs.flatMap((x) => [[x.runStartedAt!, 1] as const, [x.endedAt!, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, delta] of events) most = Math.max(most, (now += delta));
  return most;
};

describe("queues, duplicates, cancel and replay", function () {
  let s: TestServer;
  before(async () => {
    s = await startServer(copyFixture("queues"), { workers: 2 });
  });
  after(() => s.stop());

  it("runs a FIFO flow one at a time, in arrival order, under 50 concurrent senders", async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, seq) => postJson(s.flows["Fifo"], { seq })));
    assert.ok(answers.every((a) => a.status === 200));
    const runs = await Promise.all(answers.map((a) => s.waitForEnd(a.json.executionId)));
    const byArrival = [...runs].sort((a, b) => a.startedAt - b.startedAt || 0);
    const byStart = [...runs].sort((a, b) => a.runStartedAt! - b.runStartedAt!);
    assert.deepEqual(
      byStart.map((x) => x.id),
      byArrival.map((x) => x.id),
    );
    for (let i = 1; i < byStart.length; i++) assert.ok(byStart[i].runStartedAt! >= byStart[i - 1].endedAt!, "never two at once");
    assert.ok(runs.every((x) => x.status === "SUCCESS"));
  });

  it("runs a throttled flow at most concurrencyLimit at once", async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => postJson(s.flows["Throttled"], {})));
    const runs = await Promise.all(answers.map((a) => s.waitForEnd(a.json.executionId)));
    assert.equal(overlaps(runs), 2);
    assert.ok(runs.every((x) => x.status === "SUCCESS"));
  });

  it("drops a request whose dedupeIdField value is already being handled, as CANCELED_AS_DUPLICATE", async () => {
    const first = await postJson(s.flows["Dedupe"], { orderId: "A-1" });
    const duplicate = await postJson(s.flows["Dedupe"], { orderId: "A-1" });
    const other = await postJson(s.flows["Dedupe"], { orderId: "B-2" });
    assert.equal(duplicate.status, 200, "the duplicate is accepted, then dropped");
    const dropped = await s.waitForEnd(duplicate.json.executionId);
    assert.equal(dropped.status, "CANCELED");
    assert.equal(dropped.resultType, "CANCELED_AS_DUPLICATE");
    assert.equal(dropped.error, null);
    assert.deepEqual(dropped.steps, []);
    assert.equal((await s.waitForEnd(first.json.executionId)).status, "SUCCESS");
    assert.equal((await s.waitForEnd(other.json.executionId)).status, "SUCCESS");
    const again = await postJson(s.flows["Dedupe"], { orderId: "A-1" });
    assert.equal((await s.waitForEnd(again.json.executionId)).status, "SUCCESS", "once the first has ended, the same value runs again");
  });

  it("skips a singleton schedule's runs while one is running, not replays of them", async () => {
    const skipped = await waitFor(() => executionsOf(s, "Singleton Tick").find((x) => x.resultType === "CANCELED_AS_DUPLICATE"), 5000);
    assert.equal(skipped.invokeType, "SCHEDULED");
    const running = executionsOf(s, "Singleton Tick").filter((x) => x.endedAt === null);
    assert.ok(running.length <= 1);
    // Replays of its runs are not scheduled runs: two at once both run (the second was dropped as a duplicate).
    const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
    s.runtime.lifecycle.setEnabled(system.id, false); // its timer stops
    try {
      const ticked = await waitFor(() => {
        const xs = executionsOf(s, "Singleton Tick");
        return xs.every((x) => x.endedAt !== null) ? xs.find((x) => x.status === "SUCCESS") : undefined;
      }, 15_000);
      const replays = [await s.runtime.replay(ticked.id), await s.runtime.replay(ticked.id)];
      for (const r of replays) assert.equal((await s.waitForEnd(r.id, 15_000)).status, "SUCCESS");
    } finally {
      s.runtime.lifecycle.setEnabled(system.id, true);
    }
  });

  it("cancels a queued execution: it leaves its queue and never runs", async () => {
    const first = await postJson(s.flows["Fifo"], { seq: "long", sleep: 800 });
    const queued = await postJson(s.flows["Fifo"], { seq: "queued" });
    const x = s.runtime.store.executions.get(queued.json.executionId)!;
    assert.equal(x.status, "QUEUED");
    s.runtime.cancel(x.id);
    assert.equal(x.status, "CANCELED");
    assert.equal(x.resultType, "CANCELED_BY_USER");
    assert.ok(x.endedAt);
    assert.equal(x.error, null);
    await s.waitForEnd(first.json.executionId);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(x.runStartedAt, null, "it never ran");
    assert.deepEqual(x.steps, []);
    assert.throws(() => s.runtime.cancel(x.id), (err: Error) => err instanceof ExecutionActionError && /has already ended \(CANCELED\)/.test(err.message));
    assert.throws(() => s.runtime.cancel("nope"), /not stored/);
  });

  it("cancels a running execution at once and discards what it still produces; other executions are not disturbed", async () => {
    const slow = await postJson(s.flows["Slow"], { sleep: 600 });
    const x = await waitFor(() => {
      const r = s.runtime.store.executions.get(slow.json.executionId);
      return r?.status === "PENDING" && r.steps.length === 1 ? r : undefined;
    });
    const neighbour = await postJson(s.flows["Slow"], { sleep: 300 });
    s.runtime.cancel(x.id);
    assert.equal(x.status, "CANCELED");
    const endedAt = x.endedAt;
    assert.equal((await s.waitForEnd(neighbour.json.executionId)).status, "SUCCESS");
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(x.status, "CANCELED");
    assert.equal(x.endedAt, endedAt);
    assert.deepEqual(x.steps.map((st) => st.stepName), ["onTrigger"], "its onExecution result was discarded");
    const logs = await s.runtime.logs.ofExecution(x);
    assert.ok(!logs.some((l) => l.message === "slow finished"), "its later log lines were discarded");
    assert.equal(logs.at(-1)!.message, "Ending Instance Execution (CANCELED): canceled by user");
  });

  it("a canceled running execution frees its FIFO slot and its --max-concurrency slot at once, though its code runs on", async () => {
    const runningNow = async (server: TestServer, url: string, body: unknown) => {
      const { json } = await postJson(url, body);
      return waitFor(() => server.runtime.store.executions.get(json.executionId)?.runStartedAt ? json.executionId as string : undefined);
    };
    const fifo = await runningNow(s, s.flows["Fifo"], { seq: 1, sleep: 20_000 });
    const next = await postJson(s.flows["Fifo"], { seq: 2 });
    s.runtime.cancel(fifo);
    assert.equal((await s.waitForEnd(next.json.executionId, 10_000)).status, "SUCCESS", "the FIFO flow's next execution did not wait for the canceled one's code");

    const capped = await startServer(copyFixture("queues"), { maxConcurrency: 1 });
    try {
      const slow = await runningNow(capped, capped.flows["Slow"], { sleep: 20_000 });
      const other = await postJson(capped.flows["Fifo"], { seq: 3 });
      capped.runtime.cancel(slow);
      assert.equal((await capped.waitForEnd(other.json.executionId, 10_000)).status, "SUCCESS");
      assert.equal(capped.runtime.runningCount, 0);
    } finally {
      const stopping = Date.now();
      await capped.stop();
      assert.ok(Date.now() - stopping < 9_000, "a stop does not wait for canceled code");
    }
  });

  it("replays an ended execution with exactly its request, linked to it; refuses running and unknown ones", async () => {
    const original = await postJson(`${s.flows["Slow"]}/a/b?q=1`, { sleep: 1 }, { "x-custom": "yes" });
    const x = await s.waitForEnd(original.json.executionId);
    const replay = await s.runtime.replay(x.id);
    const r = await s.waitForEnd(replay.id);
    assert.equal(r.links!.replayOf, x.id);
    assert.equal(r.invokeType, x.invokeType);
    assert.deepEqual(s.runtime.store.linkedTo(x.id).map((l) => l.id), [r.id]);
    const a = (await s.step(x, "onTrigger")).data as string;
    const b = (await s.step(r, "onTrigger")).data as string;
    const pick = (t: string) => {
      const p = JSON.parse(t);
      return { headers: p.headers, queryParameters: p.queryParameters, body: p.body, rawBody: p.rawBody, pathFragment: p.pathFragment };
    };
    assert.deepEqual(pick(b), pick(a), "the same trigger payload");
    const replayOfReplay = await s.runtime.replay(r.id);
    assert.equal(s.runtime.store.executions.get(replayOfReplay.id)!.links!.replayOf, x.id, "a replay of a replay names the original");

    const running = await postJson(s.flows["Slow"], { sleep: 500 });
    await assert.rejects(s.runtime.replay(running.json.executionId), /is still (queued|running); wait for it to end/);
    await assert.rejects(s.runtime.replay("nope"), /not stored/);
  });

  it("cancels with force: the worker goes, and the others in it end in ERROR naming the canceled execution", async () => {
    const solo = await startServer(copyFixture("queues"), { workers: 1 });
    try {
      const neighbour = await postJson(solo.flows["Slow"], { sleep: 5000 });
      await waitFor(() => solo.runtime.store.executions.get(neighbour.json.executionId)?.status === "PENDING");
      const spin = await postJson(solo.flows["Spin"], {});
      await new Promise((r) => setTimeout(r, 300)); // it spins: its worker cannot even report that it started
      solo.runtime.cancel(spin.json.executionId, true);
      assert.equal(solo.runtime.store.executions.get(spin.json.executionId)!.status, "CANCELED");
      const other = await solo.waitForEnd(neighbour.json.executionId);
      assert.equal(other.status, "ERROR");
      assert.match(other.error!, new RegExp(`stopped by execution ${spin.json.executionId}: it was canceled with force`));
      const after = await postJson(solo.flows["Slow"], { sleep: 1 });
      assert.equal((await solo.waitForEnd(after.json.executionId)).status, "SUCCESS", "a fresh worker took its place");
    } finally {
      await solo.stop();
    }
  });

  it("sends a worker at most UNSTARTED_PER_WORKER executions that have not started: the rest wait in the queue and outlive a worker that is stopped", async () => {
    const solo = await startServer(copyFixture("queues"), { workers: 1 });
    try {
      const spin = await postJson(solo.flows["Spin"], {});
      await new Promise((r) => setTimeout(r, 300)); // it holds the worker, which cannot report any start now
      const answers = await Promise.all(Array.from({ length: UNSTARTED_PER_WORKER + 20 }, () => postJson(solo.flows["Slow"], { sleep: 1 })));
      assert.ok(answers.every((a) => a.status === 200));
      const [worker] = solo.runtime.pool.workers;
      assert.equal(worker.unstarted.size, UNSTARTED_PER_WORKER, "the spinning one and the first others (and a scheduled one, if its time came)");
      const ids = answers.map((a) => a.json.executionId as string);
      const inWorker = ids.filter((id) => worker.running.has(id));
      const heldBack = ids.filter((id) => !worker.running.has(id));
      assert.ok(heldBack.length >= 20, `${heldBack.length} held back`);
      assert.ok(heldBack.every((id) => solo.runtime.store.executions.get(id)!.status === "QUEUED"));
      solo.runtime.cancel(spin.json.executionId, true);
      const status = async (id: string) => (await solo.waitForEnd(id)).status;
      assert.deepEqual(await Promise.all(heldBack.map(status)), heldBack.map(() => "SUCCESS"), "held back, they run on the fresh worker");
      assert.deepEqual(await Promise.all(inWorker.map(status)), inWorker.map(() => "ERROR"), "those in the stopped worker end in ERROR, as INTERFACES.md §4 says");
    } finally {
      await solo.stop();
    }
  });

  it("refuses a synchronous FIFO flow that calls itself, at once, with the chain", async () => {
    const res = await postJson(s.flows["Fifo Self Caller"], {});
    assert.equal(res.status, 500);
    const x = await s.waitForEnd(res.json.executionId);
    const logs = await s.runtime.logs.ofExecution(x);
    assert.ok(logs.some((l) => /Cross-flow call refused: the chain Fifo Self Caller → Fifo Self Caller would wait forever: "Fifo Self Caller" runs one execution at a time \(FIFO\)/.test(l.message)), JSON.stringify(logs.map((l) => l.message)));
  });

  it("refuses, at once, the call that would close a wait across two chains (each holding the FIFO slot the other's call needs)", async () => {
    // Both used to hang until --sync-timeout (504), each callee queued behind the other chain.
    const answers = await Promise.all([postJson(s.flows["Fifo Ping"], {}), postJson(s.flows["Fifo Pong"], {})]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 500], JSON.stringify(answers.map((a) => a.json)));
    const refusedChain = await s.waitForEnd(answers.find((a) => a.status === 500)!.json.executionId);
    const logs = await s.runtime.logs.ofExecution(refusedChain);
    assert.ok(logs.some((l) => /Cross-flow call refused: the chain Fifo P.ng → Fifo P.ng would wait forever: "Fifo P.ng" runs one execution at a time \(FIFO\), and what holds that slot waits, through cross-flow calls of its own, on this chain/.test(l.message)), JSON.stringify(logs.map((l) => l.message)));
  });
});

describe("retries (spectral-runtime.md §7)", function () {
  let s: TestServer;
  before(async () => {
    s = await startServer(copyFixture("queues"));
  });
  after(() => s.stop());

  it("retries a failed asynchronous execution maxAttempts times, each a new execution linked to the first attempt", async () => {
    const res = await postJson(s.flows["Retried"], { requestId: "r-1" });
    const first = await s.waitForEnd(res.json.executionId);
    assert.equal(first.status, "ERROR");
    const retries = await waitFor(() => {
      const rs = s.runtime.store.linkedTo(first.id).filter((x) => x.endedAt !== null);
      return rs.length === 2 ? rs : undefined;
    }, 10_000);
    assert.deepEqual(retries.map((x) => [x.links!.retryOf, x.links!.retryCount, x.status]), [
      [first.id, 1, "ERROR"],
      [first.id, 2, "ERROR"],
    ]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.runtime.store.linkedTo(first.id).length, 2, "no third attempt");
    const a = JSON.parse((await s.step(first, "onTrigger")).data as string);
    const b = JSON.parse((await s.step(retries[1], "onTrigger")).data as string);
    assert.deepEqual(b.body, a.body, "a retry runs with the original request");
  });

  it("does not retry a synchronous invocation", async () => {
    const res = await postJson(s.flows["Retried"], { requestId: "sync" }, { "prismatic-synchronous": "true" });
    assert.equal(res.status, 500);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(s.runtime.store.linkedTo(res.json.executionId), []);
  });

  it("cancels a pending retry when a newer request with the same uniqueRequestIdField value arrives", async () => {
    const older = await s.waitForEnd((await postJson(s.flows["Retried Later"], { requestId: "u-1" })).json.executionId);
    const newer = await postJson(s.flows["Retried Later"], { requestId: "u-1" });
    await waitFor(() => s.runtime.store.executions.get(newer.json.executionId)?.endedAt, 5000);
    const olderLogs = await s.runtime.logs.ofExecution(older);
    assert.ok(olderLogs.some((l) => l.message.startsWith(`Pending retry canceled: a newer request with the same unique request id (u-1) arrived as execution ${newer.json.executionId}`)), JSON.stringify(olderLogs.map((l) => l.message)));
  });

  it("applies a step's errorConfig: retry runs the step again, ignore goes on without its result", async () => {
    const retried = await s.waitForEnd((await postJson(s.flows["Step Retry"], {})).json.executionId);
    assert.equal(retried.status, "SUCCESS");
    assert.deepEqual(JSON.parse((await s.step(retried, "onExecution")).data as string), { attempts: 2 });
    assert.ok((await s.runtime.logs.ofExecution(retried)).some((l) => l.severity === "WARN" && /Step failed \(attempt 1 of 3\): first attempt fails; retrying in 0 s/.test(l.message)));
    const ignored = await s.waitForEnd((await postJson(s.flows["Step Ignore"], {})).json.executionId);
    assert.equal(ignored.status, "SUCCESS");
    assert.ok((await s.runtime.logs.ofExecution(ignored)).some((l) => l.severity === "WARN" && /ignored failure/.test(l.message)));
  });
});

describe("state (spectral-runtime.md §3)", function () {
  it("keeps what a successful execution leaves in each scope, not what a failed one does, across a restart", async () => {
    const workspace = copyFixture("queues");
    const run = async (s: TestServer, body: object) => {
      const x = await s.waitForEnd((await postJson(s.flows["Counter"], body)).json.executionId);
      return x.status === "SUCCESS" ? JSON.parse((await s.step(x, "onExecution")).data as string) : x.status;
    };
    let s = await startServer(workspace);
    try {
      assert.deepEqual(await run(s, {}), { count: 1, total: 1, runs: 1, fromTrigger: true });
      assert.deepEqual(await run(s, {}), { count: 2, total: 2, runs: 2, fromTrigger: true });
      assert.equal(await run(s, { fail: true }), "ERROR");
      assert.deepEqual(await run(s, {}), { count: 3, total: 3, runs: 3, fromTrigger: true }, "the failed execution changed nothing");
    } finally {
      await s.stop();
    }
    const file = fs.readFileSync(path.join(workspace, ".refract", "state.ndjson"), "utf8").trim().split("\n");
    assert.ok(file.length >= 3 && file.every((l) => JSON.parse(l).k), "appended lines, one per changed scope");
    s = await startServer(workspace);
    try {
      assert.deepEqual(await run(s, {}), { count: 4, total: 4, runs: 4, fromTrigger: true }, "state survives a restart");
    } finally {
      await s.stop();
    }
  });
});

describe("replay after a fix, one at a time and in bulk", function () {
  it("an execution fails, the code is fixed, its replay succeeds on the new version; bulk replay takes every failed one without a successful replay", async () => {
    const workspace = copyFixture("queues");
    const s = await startServer(workspace);
    try {
      const failed = [];
      for (let i = 0; i < 5; i++) failed.push(await s.waitForEnd((await postJson(s.flows["Flaky"], { i })).json.executionId));
      assert.ok(failed.every((x) => x.status === "ERROR" && x.versionNumber === 1));
      const file = path.join(workspace, "src/index.ts");
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("const bug = true;", "const bug = false;"));
      await waitFor(() => s.runtime.build.versionNumber === 2 && s.runtime.build.ok, 30_000, "version 2");

      const one = await s.waitForEnd((await s.runtime.replay(failed[0].id)).id);
      assert.equal(one.status, "SUCCESS");
      assert.equal(one.versionNumber, 2);
      assert.deepEqual(JSON.parse((await s.step(one, "onExecution")).data as string), { fixed: { i: 0 } });

      const flowId = failed[0].scope.flowId;
      const bulk = await s.runtime.replayMany({ flow: flowId, errorIsNull: false, replayForExecutionIsNull: true });
      assert.equal(bulk.length, 4, "the four failed executions that have no successful replay yet");
      const ended = await Promise.all(bulk.map((x) => s.waitForEnd(x.id)));
      assert.ok(ended.every((x) => x.status === "SUCCESS"));
      assert.deepEqual(new Set(ended.map((x) => x.links!.replayOf)), new Set(failed.slice(1).map((x) => x.id)));
      assert.equal((await s.runtime.replayMany({ flow: flowId, errorIsNull: false, replayForExecutionIsNull: true })).length, 0, "nothing is left to replay");
    } finally {
      await s.stop();
    }
  });
});
