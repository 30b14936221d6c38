import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { InstanceError } from "../../server/src/runtime/instances";
import { emptyRequest } from "../../server/src/runtime/invocation";
import { nextRuns, scheduleError } from "../../server/src/runtime/scheduler";
import { ExecutionStore, LogRecord } from "../../server/src/store/executions";
import { TestServer, copyFixture, post, postJson, startServer, tmpDir, waitFor } from "../helpers";

/** Every log line of the data dir, hook lines (no execution) included. */
async function allLogs(s: TestServer): Promise<LogRecord[]> {
  await s.runtime.store.flushed();
  const root = path.join(s.dataDir, "executions");
  return fs
    .readdirSync(root)
    .flatMap((day) => fs.readFileSync(path.join(root, day, "logs.ndjson"), "utf8").split("\n"))
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const executionsOf = (s: TestServer, flowName: string, instanceId?: string) =>
  [...s.runtime.store.executions.values()].filter((x) => x.scope.flowName === flowName && (!instanceId || x.scope.instanceId === instanceId));

describe("triggers: schedules, deploy, removal, endpoint security, cross-flow calls", function () {
  let s: TestServer;
  let systemId: string;
  before(async () => {
    s = await startServer(copyFixture("lifecycle"));
    systemId = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!.id;
    await s.runtime.store.flushed();
  });
  after(() => s.stop());

  /** A customer's instance of the fixture, with the values an ordinary deploy needs. */
  function newInstance(name: string, values: Record<string, string> = {}) {
    const customer = s.runtime.instances.createCustomer({ name: `${name} Inc` });
    return s.runtime.instances.createInstance({
      integrationId: s.runtime.integration!.meta.id,
      customerId: customer.id,
      name,
      configValues: { "Tick Schedule": "0 0 1 1 *", ...values },
    });
  }

  it("deploys the system instance at first load: its deploy hooks run, then its deploy flows", async () => {
    const deployRuns = await waitFor(() => {
      const runs = executionsOf(s, "On Deploy", systemId).filter((x) => x.endedAt !== null);
      return runs.length ? runs : undefined;
    });
    assert.equal(deployRuns.length, 1);
    assert.equal(deployRuns[0].invokeType, "DEPLOY_FLOW");
    assert.equal(deployRuns[0].status, "SUCCESS");
    const hookLine = (await allLogs(s)).find((l) => l.message === "deploy hook ran for Fixture Lifecycle (test)");
    assert.ok(hookLine, "the Hooked flow's onInstanceDeploy logged");
    assert.equal(hookLine.executionId, null);
    assert.equal(hookLine.instanceId, systemId);
    assert.ok(hookLine.at <= deployRuns[0].startedAt, "hooks run before the deploy flows start");
  });

  it("runs a declared 6-field schedule in its time zone, stops it while the instance is disabled, and resumes it", async () => {
    const ticks = await waitFor(() => {
      const done = executionsOf(s, "Every Second", systemId).filter((x) => x.endedAt !== null);
      return done.length >= 2 ? done : undefined;
    }, 5000);
    assert.ok(ticks.every((x) => x.invokeType === "SCHEDULED" && x.status === "SUCCESS"));
    const result = (await s.step(ticks[0], "onExecution")) as { data: string };
    assert.equal(JSON.parse(result.data).trigger.headers["prismatic-invoke-type"], "Scheduled");
    const fc = s.runtime.instances.flowConfigOf(systemId, ticks[0].scope.flowId)!;
    assert.deepEqual(s.runtime.lifecycle.scheduleOf(s.runtime.instances.instance(systemId)!, s.runtime.flowById(fc.flowId)!).schedule, { cron: "* * * * * *", timeZone: "America/New_York" });

    s.runtime.lifecycle.setEnabled(systemId, false);
    await new Promise((r) => setTimeout(r, 50)); // a run that fired just before is recorded
    const before = executionsOf(s, "Every Second", systemId).length;
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(executionsOf(s, "Every Second", systemId).length, before, "no run while disabled");
    s.runtime.lifecycle.setEnabled(systemId, true);
    await waitFor(() => executionsOf(s, "Every Second", systemId).length > before, 3000, "a run after enabling");
  });

  it("runs a schedule from a config variable once it has a value, and refuses an invalid one", async () => {
    assert.equal(executionsOf(s, "Configured Tick").length, 0, "no value, no schedule");
    assert.throws(() => s.runtime.lifecycle.configure(systemId, { "Tick Schedule": "61 * * * *" }), (err: Error) => err instanceof InstanceError && /Configured Tick.*invalid cron expression "61 \* \* \* \*".*Tick Schedule/.test(err.message));
    assert.equal(s.runtime.instances.instance(systemId)!.configValues["Tick Schedule"], undefined, "an invalid value changes nothing");
    s.runtime.lifecycle.configure(systemId, { "Tick Schedule": "* * * * * *" });
    const run = await waitFor(() => executionsOf(s, "Configured Tick", systemId).find((x) => x.endedAt !== null), 3000);
    assert.equal(run.invokeType, "SCHEDULED");
    s.runtime.lifecycle.configure(systemId, { "Tick Schedule": "" });
    assert.ok(!s.runtime.lifecycle.scheduler.armed(systemId).includes(run.scope.flowId), "clearing the value stops it");
  });

  it("deploys an instance: hooks, then deploy flows (DEPLOY_FLOW), then schedules; its webhooks work", async () => {
    const instance = newInstance("Deploys");
    const deployed = await s.runtime.lifecycle.deploy(instance.id);
    assert.equal(deployed.deployed, true);
    assert.ok((await allLogs(s)).some((l) => l.message === "deploy hook ran for Deploys" && l.instanceId === instance.id));
    const run = await waitFor(() => executionsOf(s, "On Deploy", instance.id).find((x) => x.endedAt !== null));
    assert.equal(run.invokeType, "DEPLOY_FLOW");
    assert.equal(run.scope.isTestExecution, false);
    assert.ok(s.runtime.lifecycle.scheduler.armed(instance.id).length === 2, "Every Second and Configured Tick are armed");
    // A deployed instance's schedule follows its config at once, as its executions' values do
    // (it kept the deployed timer until a rebuild or restart, while the API showed the new one).
    const tick = s.runtime.instances.flowConfigsOf(instance.id).find((f) => s.runtime.flowById(f.flowId)!.name === "Configured Tick")!;
    s.runtime.lifecycle.configure(instance.id, { "Tick Schedule": "" });
    assert.ok(!s.runtime.lifecycle.scheduler.armed(instance.id).includes(tick.flowId), "clearing the value stops it");
    s.runtime.lifecycle.configure(instance.id, { "Tick Schedule": "0 0 1 1 *" });
    assert.ok(s.runtime.lifecycle.scheduler.armed(instance.id).includes(tick.flowId));
    // A new instance's values are checked as a change is (createInstance took any cron).
    const customer = s.runtime.instances.createCustomer({ name: "Bad Cron Inc" });
    const create = { integrationId: s.runtime.integration!.meta.id, customerId: customer.id, name: "Bad Cron", configValues: { "Tick Schedule": "70 * * * *" } };
    assert.throws(() => s.runtime.lifecycle.createInstance(create), /Configured Tick.*invalid cron expression "70 \* \* \* \*"/);
    const fc = s.runtime.instances.flowConfigsOf(instance.id).find((f) => s.runtime.flowById(f.flowId)!.name === "Hooked")!;
    const res = await postJson(s.runtime.webhookUrl(fc.id), { a: 1 });
    assert.equal(res.status, 200);
    assert.equal((await s.waitForEnd(res.json.executionId)).invokeType, "WEBHOOK");
  });

  it("refuses to deploy an instance whose required config variables have no value, and changes nothing", async () => {
    const customer = s.runtime.instances.createCustomer({ name: "Unset Inc" });
    const instance = s.runtime.instances.createInstance({ integrationId: s.runtime.integration!.meta.id, customerId: customer.id, name: "Unset" });
    await assert.rejects(s.runtime.lifecycle.deploy(instance.id), /cannot be deployed: required config variables have no value: Tick Schedule/);
    assert.equal(s.runtime.instances.instance(instance.id)!.deployed, false);
    assert.deepEqual(s.runtime.instances.flowConfigsOf(instance.id), []);
  });

  it("leaves an instance undeployed with the reason when a deploy hook fails, and answers its webhooks 409", async () => {
    const instance = newInstance("Refused", { "Fail Deploy": "true" });
    await assert.rejects(s.runtime.lifecycle.deploy(instance.id), (err: Error) => err instanceof InstanceError && /onInstanceDeploy of flow "Hooked" failed: deploy hook refused/.test(err.message));
    const after = s.runtime.instances.instance(instance.id)!;
    assert.equal(after.deployed, false);
    assert.match(after.deployError!, /deploy hook refused/);
    assert.equal(executionsOf(s, "On Deploy", instance.id).length, 0, "no deploy flow ran");
    assert.deepEqual(s.runtime.lifecycle.scheduler.armed(instance.id), []);
    const fc = s.runtime.instances.flowConfigsOf(instance.id)[0];
    const res = await postJson(s.runtime.webhookUrl(fc.id), {});
    assert.equal(res.status, 409);
    assert.match(res.json.error, /not deployed: onInstanceDeploy of flow "Hooked" failed: deploy hook refused/);
  });

  it("removes an instance: its remove flows run to their end (TEAR_DOWN_FLOW), then its delete hooks, then it is gone", async () => {
    const instance = newInstance("Removed");
    await s.runtime.lifecycle.deploy(instance.id);
    const url = s.runtime.webhookUrl(s.runtime.instances.flowConfigsOf(instance.id)[0].id);
    await s.runtime.lifecycle.remove(instance.id);
    const teardown = executionsOf(s, "On Remove", instance.id);
    assert.equal(teardown.length, 1);
    assert.equal(teardown[0].invokeType, "TEAR_DOWN_FLOW");
    assert.equal(teardown[0].status, "SUCCESS", "the remove flow ended before removal went on");
    const deleteHook = (await allLogs(s)).find((l) => l.message === "delete hook ran for Removed");
    assert.ok(deleteHook && deleteHook.at >= teardown[0].endedAt!, "the delete hook ran after the remove flow ended");
    assert.equal(s.runtime.instances.instance(instance.id), undefined);
    assert.deepEqual(s.runtime.instances.flowConfigsOf(instance.id), []);
    assert.deepEqual(s.runtime.lifecycle.scheduler.armed(instance.id), []);
    assert.equal((await postJson(url, {})).status, 404);
    assert.ok(s.runtime.store.executions.get(teardown[0].id), "its executions stay");
    await assert.rejects(s.runtime.lifecycle.remove(systemId), /system instance: it cannot be removed/);
    await assert.rejects(s.runtime.lifecycle.remove("nope"), /Unknown instance nope/);
  });

  it("asks for the Api-Key its flow's endpoint security requires (401 otherwise)", async () => {
    const fc = s.runtime.instances.flowConfigsOf(systemId).find((f) => s.runtime.flowById(f.flowId)!.name === "Secured")!;
    const missing = await postJson(s.flows["Secured"], {});
    assert.equal(missing.status, 401);
    assert.match(missing.json.error, /requires an Api-Key header/);
    assert.equal((await postJson(s.flows["Secured"], {}, { "Api-Key": "wrong" })).status, 401);
    assert.equal((await postJson(s.flows["Secured"], {}, { "api-key": fc.apiKeys[0] })).status, 200);
    assert.equal((await postJson(s.flows["Org Secured"], {}, { "Api-Key": "org-key-2" })).status, 200);
    assert.equal((await postJson(s.flows["Org Secured"], {}, { "Api-Key": fc.apiKeys[0] })).status, 401, "a flow config key is not an organization key");
    assert.equal((await postJson(s.flows["Callee"], { n: 1 })).status, 200, "unsecured flows need none");
    // invokeFlow sends context.webhookApiKeys[flow][0]: a key the callee's own security takes.
    for (const target of ["Secured", "Org Secured"]) {
      const caller = await s.waitForEnd((await postJson(s.flows["Caller"], { target })).json.executionId);
      assert.equal(caller.status, "SUCCESS", `invokeFlow("${target}"): ${caller.error}`);
    }
  });

  it("runs a cross-flow call through the sibling's real webhook URL, linked both ways (CROSS_FLOW)", async () => {
    const res = await postJson(s.flows["Caller"], { n: 7 });
    const caller = await s.waitForEnd(res.json.executionId);
    assert.equal(caller.status, "SUCCESS", caller.error ?? "");
    assert.deepEqual(JSON.parse((await s.step(caller, "onExecution")).data as string), { callee: { got: { n: 7 } } });
    const [callee] = s.runtime.store.linkedTo(caller.id);
    assert.ok(callee, "the callee links to its caller");
    assert.equal(callee.scope.flowName, "Callee");
    assert.equal(callee.invokeType, "CROSS_FLOW");
    assert.equal(callee.links!.invokedBy, caller.id);
  });
});

describe("the system instance's deploy (INTERFACES.md §3)", function () {
  it("stays undeployed with the reason when its deploy hook fails, and the next good build deploys it", async () => {
    const workspace = copyFixture("lifecycle");
    const file = path.join(workspace, "src/index.ts");
    const original = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, original.replace('if (context.configVars["Fail Deploy"] === "true") throw', "throw"));
    const s = await startServer(workspace);
    try {
      const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
      assert.equal(system.deployed, false);
      assert.match(system.deployError!, /onInstanceDeploy of flow "Hooked" failed: deploy hook refused/);
      const refused = await postJson(s.flows["Callee"], {});
      assert.equal(refused.status, 409);
      assert.match(refused.json.error, /not deployed: onInstanceDeploy of flow "Hooked" failed/);
      assert.deepEqual(s.runtime.lifecycle.scheduler.armed(system.id), [], "no schedules while undeployed");

      fs.writeFileSync(file, original);
      await waitFor(() => s.runtime.instances.instance(system.id)?.deployed, 30_000, "the deploy at the next good build");
      assert.equal(s.runtime.instances.instance(system.id)!.deployError, null);
      assert.equal((await postJson(s.flows["Callee"], {})).status, 200);
      await waitFor(() => executionsOf(s, "On Deploy", system.id).length === 1, 5000, "its deploy flow");
    } finally {
      await s.stop();
    }
  });
});

describe("schedule expressions", function () {
  it("takes 5 fields, or 6 with seconds first, in an IANA time zone, and says what is wrong otherwise", () => {
    assert.equal(scheduleError({ cron: "0 2 * * *", timeZone: "America/New_York" }), null);
    assert.equal(scheduleError({ cron: "*/5 * * * * *", timeZone: null }), null);
    assert.match(scheduleError({ cron: "* * * *", timeZone: null })!, /has 4 fields, not 5 \(or 6 with seconds first\)/);
    assert.match(scheduleError({ cron: "0 0 * * * * 2030", timeZone: null })!, /has 7 fields/);
    assert.match(scheduleError({ cron: "0 25 * * *", timeZone: null })!, /invalid cron expression "0 25 \* \* \*"/);
    assert.match(scheduleError({ cron: "0 2 * * *", timeZone: "Mars/Olympus_Mons" })!, /invalid time zone "Mars\/Olympus_Mons"/);
    assert.match(scheduleError({ cron: "0 0 31 2 *", timeZone: null })!, /invalid cron expression "0 0 31 2 \*": it never fires \(no such date\)/);
    assert.equal(scheduleError({ cron: "0 0 29 2 *", timeZone: null }), null, "a leap day fires");
    // 02:00 in New York is 07:00 UTC in winter.
    assert.deepEqual(nextRuns({ cron: "0 2 * * *", timeZone: "America/New_York" }, 1, new Date("2026-01-10T12:00:00Z")).map((d) => d.toISOString()), ["2026-01-11T07:00:00.000Z"]);
  });
});

describe("schedules follow the code", function () {
  it("stops a flow's timers when a rebuild takes its schedule away, refuses an invalid cron in code, and does not rerun deploy flows on a rebuild", async () => {
    const workspace = copyFixture("lifecycle");
    const s = await startServer(workspace);
    try {
      const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
      const everySecond = s.runtime.integration!.meta.flowIds["every-second"];
      assert.ok(s.runtime.lifecycle.scheduler.armed(system.id).includes(everySecond));
      const builds = () => s.lines.map((l) => JSON.parse(l)).filter((o) => o.event === "build");
      const file = path.join(workspace, "src/index.ts");
      const original = fs.readFileSync(file, "utf8");

      fs.writeFileSync(file, original.replace('schedule: { value: "* * * * * *", timezone: "America/New_York" },', 'schedule: { value: "61 * * * *" },'));
      await waitFor(() => builds().some((b) => b.ok === false), 30_000, "the failed build");
      assert.match(builds().at(-1).error, /flow "Every Second" has an invalid cron expression "61 \* \* \* \*"/);
      assert.ok(s.runtime.lifecycle.scheduler.armed(system.id).includes(everySecond), "the last good build keeps running");
      // A schedule config variable's time zone and default are code too: the build fails, rather than every deploy.
      for (const [declared, message] of [
        ['timeZone: "Europe/Pariss"', /config variable "Tick Schedule" \(the schedule of flow "Configured Tick"\) has an invalid time zone "Europe\/Pariss"/],
        ['timeZone: "Europe/Paris", defaultValue: "0 25 * * *"', /config variable "Tick Schedule" \(the schedule of flow "Configured Tick"\) has an invalid cron expression "0 25 \* \* \*"/],
      ] as const) {
        const failures = builds().filter((b) => !b.ok).length;
        fs.writeFileSync(file, original.replace('dataType: "schedule", timeZone: "Europe/Paris"', `dataType: "schedule", ${declared}`));
        await waitFor(() => builds().filter((b) => !b.ok).length > failures, 30_000, "the failed build");
        assert.match(builds().at(-1).error, message);
      }

      fs.writeFileSync(file, original.replace('schedule: { value: "* * * * * *", timezone: "America/New_York" },', ""));
      await waitFor(() => builds().some((b) => b.ok && b.versionNumber === 2), 30_000, "version 2");
      assert.ok(!s.runtime.lifecycle.scheduler.armed(system.id).includes(everySecond), "its timer stopped");
      await new Promise((r) => setTimeout(r, 300));
      const count = executionsOf(s, "Every Second").length;
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(executionsOf(s, "Every Second").length, count);
      assert.equal(executionsOf(s, "On Deploy", system.id).length, 1, "deploy flows ran at creation only");
    } finally {
      await s.stop();
    }
  });
});

describe("bad cross-flow calls and a full queue", function () {
  it("fails an invokeFlow to a flow that does not exist with an error naming it, in the caller's log", async () => {
    const s = await startServer(copyFixture("lifecycle"));
    try {
      const x = await s.waitForEnd((await postJson(s.flows["Calls Missing"], {})).json.executionId);
      assert.equal(x.status, "ERROR");
      assert.match(x.error!, /404/);
      const logs = await s.runtime.logs.ofExecution(x);
      assert.ok(logs.some((l) => l.severity === "ERROR" && /invokeFlow\("No Such Flow"\): this integration has no flow named "No Such Flow" \(its flows: "Every Second", /.test(l.message)), JSON.stringify(logs.map((l) => l.message)));
    } finally {
      await s.stop();
    }
  });

  it("answers 429 with Retry-After once the queue holds ten times --max-concurrency", async () => {
    const s = await startServer(copyFixture("lifecycle"), { maxConcurrency: 1 });
    try {
      const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
      s.runtime.lifecycle.setEnabled(system.id, false); // its every-second schedule stays out of the count
      const fc = s.runtime.instances.flowConfigsOf(system.id).find((f) => s.runtime.flowById(f.flowId)!.name === "On Remove")!;
      // Schedules and lifecycle flows grow the queue without waiting for room, as this does.
      const started = [];
      for (let i = 0; i < 12; i++) started.push(await s.runtime.invoke(fc.id, emptyRequest(s.runtime.webhookUrl(fc.id)), "SCHEDULED"));
      s.runtime.lifecycle.setEnabled(system.id, true);
      const res = await postJson(s.flows["Callee"], {});
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "1");
      assert.match(res.json.error, /executions are queued, over ten times --max-concurrency \(1\)/);
      for (const x of started) s.runtime.cancel(x.id);
    } finally {
      await s.stop();
    }
  });
});

describe("cross-flow chain limit (--max-chain-depth)", function () {
  it("refuses a call that would make the chain too deep, at once, and logs the chain in the caller", async () => {
    const s = await startServer(copyFixture("lifecycle"), { maxChainDepth: 3 });
    try {
      const res = await postJson(s.flows["Recursive"], { depth: 1 });
      const first = await s.waitForEnd(res.json.executionId);
      const chain = [first];
      for (;;) {
        const next = s.runtime.store.linkedTo(chain.at(-1)!.id)[0];
        if (!next) break;
        chain.push(await s.waitForEnd(next.id));
      }
      assert.equal(chain.length, 3);
      const last = chain[2];
      assert.equal(last.status, "ERROR");
      assert.match(last.error!, /508/);
      const logs = await s.runtime.logs.ofExecution(last);
      assert.ok(logs.some((l) => /Cross-flow call refused: the chain Recursive → Recursive → Recursive → Recursive would be 4 executions deep, over --max-chain-depth 3/.test(l.message)), JSON.stringify(logs.map((l) => l.message)));
    } finally {
      await s.stop();
    }
  });
});

describe("retention (--retention-days)", function () {
  it("deletes whole days older than the limit at start-up and keeps the rest", async () => {
    const workspace = copyFixture("lifecycle");
    const dataDir = tmpDir("retention");
    const store = new ExecutionStore(dataDir);
    const scope = { flowConfigId: "fc", flowId: "f", flowName: "Old", instanceId: "i", customerId: "c", integrationId: "n", isTestExecution: false };
    const day = 86_400_000;
    await store.accept("old", scope, "WEBHOOK", Date.now() - 20 * day, Buffer.from("x"));
    await store.accept("kept", scope, "WEBHOOK", Date.now() - 2 * day, Buffer.from("y"));
    await store.close();
    const oldDay = new Date(Date.now() - 20 * day).toISOString().slice(0, 10);
    assert.ok(fs.existsSync(path.join(dataDir, "executions", oldDay)));
    const s = await startServer(workspace, { dataDir, retentionDays: 14 });
    try {
      await waitFor(() => !fs.existsSync(path.join(dataDir, "executions", oldDay)), 5000, "the old day to go");
      assert.equal(s.runtime.store.executions.get("old"), undefined);
      assert.ok(s.runtime.store.executions.get("kept"));
      const res = await post(s.flows["Callee"], "{}", { "content-type": "application/json" });
      assert.equal(res.status, 200, "the server kept serving");
    } finally {
      await s.stop();
    }
  });
});
