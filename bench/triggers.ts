// Refract triggers benchmark (`npm run bench:triggers`, about 3 minutes). Refract runs in this
// process (its GraphQL API, through which scripts would start a bulk replay, is a later issue);
// load comes from bench/load.mjs in a process of its own. Prints each target of the triggers
// issue with its figure and ratio; exits 0 whether targets are met or not (a benchmark, not a test).
import { fork } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { ROOT, serveFixture } from "./inProcess";
import { ExecutionRecord } from "../server/src/store/executions";

const SCHEDULE_WINDOW_MS = Number(process.env.SCHEDULE_WINDOW_MS ?? 120_000);
const REPLAYS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${s}\n`);
const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** One load phase in bench/load.mjs (see its header for the modes). */
function load(cfg: Record<string, unknown>): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(ROOT, "bench", "load.mjs"));
    child.send(cfg);
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`load generator exited with ${code} before reporting`)));
  });
}

async function main() {
  const served = await serveFixture("triggers");
  const { runtime } = served;
  const store = runtime.store;
  const system = runtime.instances.systemInstance(runtime.integration!.meta.id)!;
  const url = (flow: string) => {
    const fc = runtime.instances.flowConfigsOf(system.id).find((f) => runtime.flowById(f.flowId)!.name === flow)!;
    return runtime.webhookUrl(fc.id);
  };
  const ofFlow = (flow: string, from = 0) => [...store.executions.values()].filter((x) => x.scope.flowName === flow && x.startedAt >= from);
  const allEnded = async (flow: string, from: number, count: number) => {
    for (;;) {
      const xs = ofFlow(flow, from);
      if (xs.length >= count && xs.every((x) => x.endedAt !== null)) return xs;
      await sleep(20);
    }
  };
  const rows: [string, string, string, string][] = [];
  const json: Record<string, number | boolean> = {};

  // ------------------------------------------------------------ 1. FIFO under 50 senders vs one sequential sender
  const N = 1000;
  let from = Date.now();
  for (let i = 0; i < 300; i++) {
    const res = await fetch(url("Fifo"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ seq: i }) });
    const { executionId } = (await res.json()) as { executionId: string };
    while (store.executions.get(executionId)!.endedAt === null) await sleep(0);
  }
  const sequential = 300 / ((Date.now() - from) / 1000);
  log(`FIFO, one sender waiting for each execution to end: ${sequential.toFixed(0)} executions/s`);
  from = Date.now();
  await load({ mode: "closed", url: url("Fifo"), body: JSON.stringify({ seq: 0 }), connections: 50, durationMs: 60_000, warmupMs: 0, maxRequests: N });
  const fifo = await allEnded("Fifo", from, N);
  const fifoSeconds = (Math.max(...fifo.map((x) => x.endedAt!)) - from) / 1000;
  const concurrent = N / fifoSeconds;
  const byArrival = [...fifo].sort((a, b) => a.startedAt - b.startedAt);
  let inOrder = true;
  for (let i = 1; i < byArrival.length; i++) if (byArrival[i].runStartedAt! < byArrival[i - 1].endedAt!) inOrder = false;
  log(`FIFO, 50 senders: ${concurrent.toFixed(0)} executions/s, ${inOrder ? "in arrival order, one at a time" : "ORDER BROKEN"}`);
  rows.push(["FIFO throughput, 50 senders vs one sequential sender", `${concurrent.toFixed(0)}/s vs ${sequential.toFixed(0)}/s`, ">= 0.5x", `${(concurrent / sequential).toFixed(2)}x`]);
  rows.push(["FIFO order under 50 senders", inOrder ? "preserved" : "broken", "preserved", ""]);
  Object.assign(json, { fifoSequentialPerS: sequential, fifoConcurrentPerS: concurrent, fifoInOrder: inOrder });

  // ------------------------------------------------------------ 2. cross-flow overhead, after 200 calls of warm-up
  for (let i = 0, measured = 200; i < 200 + measured; i++) {
    if (i === 200) from = Date.now();
    const res = await fetch(url("Caller"), { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    const { executionId } = (await res.json()) as { executionId: string };
    while (store.executions.get(executionId)!.endedAt === null) await sleep(0);
  }
  const overheads = ofFlow("Caller", from).map((caller) => {
    const callee = store.linkedTo(caller.id)[0];
    const step = caller.steps.find((s) => s.stepName === "onExecution")!;
    return step.endedAt - step.startedAt - (callee.endedAt! - callee.startedAt);
  });
  const overheadP50 = median(overheads);
  // Where it goes: the callee's acceptance after the caller's step began, and the caller's step
  // end after the callee's end (spectral's invokeFlow is an axios call; each way is an HTTP hop
  // and a worker hop).
  const inbound = median(ofFlow("Caller", from).map((c) => store.linkedTo(c.id)[0].startedAt - c.steps[1].startedAt));
  const outbound = median(ofFlow("Caller", from).map((c) => c.steps[1].endedAt - store.linkedTo(c.id)[0].endedAt!));
  log(`cross-flow call: caller's step minus the callee's own time, p50 ${overheadP50} ms, p90 ${quantile(overheads, 0.9)} ms over ${overheads.length} (p50 ${inbound} ms in, ${outbound} ms back)`);

  // The baseline: the same call (spectral's invokeFlow is an axios.post) from a flow's step to a
  // bare Node server in this process that also answers after 20 ms, measured the same way. What
  // Refract adds to a cross-flow call is the difference.
  const serverMs = new Map<string, number>(); // by the caller's execution id, which the call sends
  const bare = http.createServer((req, res) => {
    const receivedAt = Date.now();
    req.resume();
    setTimeout(() => {
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      serverMs.set(String(req.headers["prismatic-executionid"]), Date.now() - receivedAt);
    }, 20);
  });
  await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
  const bareBody = JSON.stringify({ url: `http://127.0.0.1:${(bare.address() as AddressInfo).port}/` });
  for (let i = 0; i < 200 + 200; i++) {
    if (i === 200) from = Date.now();
    const res = await fetch(url("Bare Call"), { method: "POST", headers: { "content-type": "application/json" }, body: bareBody });
    const { executionId } = (await res.json()) as { executionId: string };
    while (store.executions.get(executionId)!.endedAt === null) await sleep(0);
  }
  bare.close();
  const baselines = ofFlow("Bare Call", from).map((x) => x.steps[1].endedAt - x.steps[1].startedAt - serverMs.get(x.id)!);
  const baselineP50 = median(baselines);
  // Step times are whole milliseconds, so the means tell differences under one.
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  log(`baseline: the same axios call from a step to a bare Node server, over the server's own time, p50 ${baselineP50} ms, p90 ${quantile(baselines, 0.9)} ms`);
  rows.push(["cross-flow call overhead (caller -> sync callee), p50", `${overheadP50} ms (mean ${mean(overheads).toFixed(1)})`, "<= 3 ms", ""]);
  rows.push(["  the same HTTP call to a bare Node server (baseline), p50", `${baselineP50} ms (mean ${mean(baselines).toFixed(1)})`, "", `+${(mean(overheads) - mean(baselines)).toFixed(1)} ms`]);
  Object.assign(json, { crossFlowOverheadP50Ms: overheadP50, bareCallOverheadP50Ms: baselineP50 });

  // ------------------------------------------------------------ 3. bulk replay of 10,000 failed executions
  from = Date.now();
  await load({ mode: "closed", url: url("Failing"), body: "{}", connections: 50, durationMs: 120_000, warmupMs: 0, maxRequests: REPLAYS });
  await allEnded("Failing", from, REPLAYS);
  const failingFlow = ofFlow("Failing", from)[0].scope.flowId;
  const replayFrom = Date.now();
  const watched = load({ mode: "paced", url: url("Trivial"), body: "{}", rate: 100, durationMs: 8000, warmupMs: 0, sockets: 8, maxSockets: 64 });
  await sleep(500);
  const t0 = Date.now();
  const replays = await runtime.replayMany({ flow: failingFlow, errorIsNull: false, startedAtGte: from });
  const started = Date.now() - t0;
  let done: ExecutionRecord[] = [];
  for (;;) {
    done = replays.filter((x) => x.endedAt !== null);
    if (done.length === replays.length) break;
    await sleep(20);
  }
  const replaySeconds = (Math.max(...replays.map((x) => x.endedAt!)) - t0) / 1000;
  const webhook = (await watched).latencyMs;
  log(`bulk replay: ${replays.length} replays started in ${started} ms, all ended ${replaySeconds.toFixed(1)} s after the call; webhook p99 meanwhile ${webhook.p99.toFixed(2)} ms (p50 ${webhook.p50.toFixed(2)})`);
  rows.push([`bulk replay of ${REPLAYS} failed executions, until all ended`, `${replaySeconds.toFixed(1)} s`, "<= 10 s", ""]);
  rows.push(["webhook p99 at 100/s while it runs", `${webhook.p99.toFixed(2)} ms`, "< 10 ms", ""]);
  Object.assign(json, { bulkReplaySeconds: replaySeconds, bulkReplayCount: replays.length, webhookP99DuringReplayMs: webhook.p99, replayFromMs: replayFrom });

  // ------------------------------------------------------------ 4. a schedule at 1 s, on an otherwise idle server
  const scheduleFrom = Date.now() + 1000;
  log(`watching the 1 s schedule for ${SCHEDULE_WINDOW_MS / 1000} s`);
  await sleep(SCHEDULE_WINDOW_MS + 1000);
  // Accepted within the due second: lateness is how far past the second's start it was recorded.
  const lateness = ofFlow("Every Second", scheduleFrom)
    .filter((x) => x.startedAt < scheduleFrom + SCHEDULE_WINDOW_MS)
    .map((x) => x.startedAt % 1000);
  const lateP99 = quantile(lateness, 0.99);
  log(`schedule at 1 s: ${lateness.length} runs, lateness p50 ${median(lateness)} ms, p99 ${lateP99} ms, max ${Math.max(...lateness)} ms`);
  rows.push([`1 s schedule, lateness p99 over ${SCHEDULE_WINDOW_MS / 1000} s`, `${lateP99} ms`, "<= 50 ms", ""]);
  Object.assign(json, { scheduleRuns: lateness.length, scheduleLatenessP99Ms: lateP99 });

  await served.stop();
  const width = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(`\n${"figure".padEnd(width)}  ${"value".padStart(22)}  ${"target".padStart(12)}  ratio\n`);
  for (const [name, value, target, ratio] of rows) process.stdout.write(`${name.padEnd(width)}  ${value.padStart(22)}  ${target.padStart(12)}  ${ratio}\n`);
  fs.writeFileSync("/tmp/refract-bench-triggers-latest.json", JSON.stringify({ at: new Date().toISOString(), figures: json }, null, 2));
  process.stdout.write("\nfigures as JSON: /tmp/refract-bench-triggers-latest.json\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
