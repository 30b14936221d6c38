import * as assert from "node:assert/strict";
import { TestServer, copyFixture, postJson, startServer } from "../helpers";

/** What user code does wrong must end its execution in ERROR, say which, and leave the server serving. */
describe("isolation and limits (INTERFACES.md §4)", function () {
  let s: TestServer;
  before(async () => {
    // One worker, so executions share it; small limits so breaches come quickly (5 s, not less: on a
    // loaded machine the memory bomb takes seconds to reach its heap limit).
    s = await startServer(copyFixture("basic"), { workers: 1, executionTimeoutS: 5, memoryLimitMb: 128 });
  });
  after(() => s.stop());

  async function run(flow: string, query = "") {
    const res = await postJson(`${s.flows[flow]}${query}`, {});
    assert.equal(res.status, 200, res.text);
    return s.waitForEnd(res.json.executionId, 30_000);
  }

  async function stillServes() {
    const x = await run("Echo");
    assert.equal(x.status, "SUCCESS");
  }

  it("a throw ends the execution in ERROR with the message and a stack mapped to the TypeScript source", async () => {
    const x = await run("Throws");
    assert.equal(x.status, "ERROR");
    assert.equal(x.resultType, "ERROR");
    assert.equal(x.error, "boom from the flow");
    const step = JSON.parse((await s.step(x, "onExecution")).data as string);
    assert.equal(step.error, "boom from the flow");
    assert.match(step.stack, /src\/index\.ts:\d+:\d+/, "the stack points into the TypeScript source");
    const logs = await s.runtime.logs.ofExecution(x);
    assert.ok(logs.some((l) => l.severity === "ERROR" && l.message.includes("boom from the flow") && /index\.ts:\d+/.test(l.message)));
    assert.match(logs[logs.length - 1].message, /^Ending Instance Execution/);
    // The first stack mapped reads the bundle's source map: that time is inside the execution.
    assert.deepEqual(logs.filter((l) => l.at > x.endedAt!).map((l) => l.message.slice(0, 40)), [], "no line is later than endedAt");
    await stillServes();
  });

  it("a rejected promise with a non-Error value ends the execution in ERROR", async () => {
    const x = await run("Rejects With String");
    assert.equal(x.status, "ERROR");
    assert.equal(x.error, "plain string rejection");
  });

  it("a failed network call ends the execution in ERROR with the cause", async () => {
    const x = await run("Network");
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /fetch failed/);
    await stillServes();
  });

  it("a Prismatic component call fails with an error naming the component and action", async () => {
    const x = await run("Component");
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /slack\.postMessage/);
    assert.match(x.error!, /not available locally/);
  });

  it("process.exit() ends only its execution and worker; the server keeps serving", async () => {
    const x = await run("Exits");
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /process\.exit\(3\) was called/);
    const logs = await s.runtime.logs.ofExecution(x);
    assert.match(logs[logs.length - 1].message, /^Ending Instance Execution/);
    await stillServes();
  });

  it("a message user code posts to its worker's parentPort is ignored (it used to end the server)", async () => {
    const x = await run("Posts To Parent Port");
    assert.equal(x.status, "SUCCESS");
    await stillServes();
  });

  it("an exception outside the execution's promise chain is pinned to its execution", async () => {
    const x = await run("Uncaught");
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /uncaught exception.*thrown from a timer/s);
    await stillServes();
  });

  it("the time limit ends a loop that never yields, and the executions sharing its worker say which one stopped it", async () => {
    const bystander = await postJson(`${s.flows["Echo"]}?sleep=10000`, {});
    // Let the bystander start before the loop takes the worker's only thread.
    await new Promise((r) => setTimeout(r, 200));
    const hang = await postJson(s.flows["Hangs"], {});
    const x = await s.waitForEnd(hang.json.executionId, 30_000);
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /time limit of 5 s/);
    const other = await s.waitForEnd(bystander.json.executionId, 30_000);
    assert.equal(other.status, "ERROR");
    assert.ok(other.error!.includes(x.id), `the bystander's error names the culprit: ${other.error}`);
    await stillServes();
  });

  it("a 2 MB log line and error message are kept cut to 100,000 characters (the error's log line keeps its stack), and the execution's logs read back", async () => {
    const x = await run("Misbehaves", "?what=huge");
    assert.equal(x.status, "ERROR");
    const cut = 2 * 1024 * 1024 - 100_000;
    assert.equal(x.error, `${"E".repeat(100_000)}… (${cut} more characters not kept)`);
    const logs = await s.runtime.logs.ofExecution(x);
    assert.ok(logs.some((l) => l.message === `${"L".repeat(100_000)}… (${cut} more characters not kept)`));
    // The error's log line: its message cut once (the count right), its stack kept.
    const errorLine = logs.find((l) => l.severity === "ERROR" && l.message.startsWith("Error: E"))!.message;
    assert.ok(errorLine.startsWith(`Error: ${"E".repeat(50_000 - 7)}… (${2 * 1024 * 1024 + 7 - 50_000} more characters not kept)\n    at `), errorLine.slice(49_990, 50_100));
    assert.match(errorLine, /src\/index\.ts:\d+:\d+/);
    const { logs: page } = await s.data(`query($x: ID!) { logs(executionResult: $x, first: 50) { nodes { message } } }`, { x: x.id });
    assert.match(page.nodes[0].message, /^Ending Instance Execution/, "newest first, read past the long lines");
    await stillServes();
  });

  it("a thrown value that cannot even be described (a Proxy whose every trap throws) ends only its execution", async () => {
    const bystander = await postJson(`${s.flows["Echo"]}?sleep=1000`, {});
    const x = await run("Misbehaves", "?what=undescribable");
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /^an object was thrown that could not be described: no reading me$/);
    assert.equal((await s.waitForEnd(bystander.json.executionId, 30_000)).status, "SUCCESS", "its worker kept running");
  });

  it("state is kept as JSON: a function in it is left out, a BigInt fails the execution once, and the worker goes on", async () => {
    assert.equal((await run("Misbehaves", "?what=function-in-state")).status, "SUCCESS");
    const x = await run("Misbehaves", "?what=bigint-in-state");
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /^The execution's state cannot be kept: Do not know how to serialize a BigInt/);
    assert.deepEqual(
      x.steps.map((st) => [st.stepName, st.hasError]),
      [
        ["onTrigger", false],
        ["onExecution", true],
      ],
    );
    await stillServes();
  });

  it("code that throws after its execution ended: the execution's log says so, and the server keeps serving", async () => {
    const x = await run("Misbehaves", "?what=late");
    assert.equal(x.status, "SUCCESS", "it had ended well");
    let line;
    for (let tries = 0; !line && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 100));
      line = (await s.runtime.logs.ofExecution(x)).find((l) => l.severity === "ERROR");
    }
    assert.match(line!.message, /^After the execution ended, its code stopped its worker: uncaught exception outside the execution's promise chain: Error: thrown after the execution ended/);
    await stillServes();
  });

  it("process.kill() of the runtime's own process is refused: the server keeps serving", async () => {
    const x = await run("Misbehaves", "?what=kill");
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /process\.kill\(\) on the runtime's own process is not allowed/);
    await stillServes();
  });

  it("a memory bomb hits the worker's heap limit; the execution says so, the one sharing its worker names it, and the server keeps serving", async () => {
    const bystander = await postJson(`${s.flows["Echo"]}?sleep=10000`, {});
    await new Promise((r) => setTimeout(r, 200));
    const x = await run("Memory Bomb");
    assert.equal(x.status, "ERROR");
    assert.match(x.error!, /^The execution stopped its worker: the worker's heap limit \(--memory-limit 128 MB\) was exceeded/);
    const other = await s.waitForEnd(bystander.json.executionId, 30_000);
    assert.ok(other.error!.includes(x.id), `the bystander's error names the culprit: ${other.error}`);
    await stillServes();
  });
});
