import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { readDefinition } from "../../server/src/runtime/definition";
import { BACKGROUND_AFTER_MS, BuildOutcome, Loader, findIntegration } from "../../server/src/runtime/loader";
import { ROOT, TestServer, copyFixture, postJson, startServer, tmpDir, waitFor } from "../helpers";

const lastBuild = (s: TestServer) =>
  s.lines
    .map((l) => JSON.parse(l))
    .filter((o) => o.event === "build")
    .pop();

describe("loading the integration (spectral-runtime.md §1–2)", function () {
  describe("finding it", () => {
    it("takes a folder with .spectral/ or a package.json depending on spectral, with src/index.ts or --entry", () => {
      const basic = path.join(ROOT, "test/fixtures/basic");
      assert.deepEqual(findIntegration(basic), { entry: path.join(basic, "src/index.ts") });
      const spectralOnly = tmpDir("spectral-folder");
      fs.mkdirSync(path.join(spectralOnly, ".spectral"));
      fs.mkdirSync(path.join(spectralOnly, "lib"));
      fs.writeFileSync(path.join(spectralOnly, "lib/main.ts"), "");
      assert.deepEqual(findIntegration(spectralOnly, "lib/main.ts"), { entry: path.join(spectralOnly, "lib/main.ts") });
      assert.match((findIntegration(spectralOnly) as { error: string }).error, /src\/index\.ts does not exist \(use --entry\)/);
    });

    it("says why when a folder has no integration, or a package.json that is not JSON", () => {
      assert.match((findIntegration(path.join(ROOT, "test/fixtures/no-integration")) as { error: string }).error, /no integration in .*\.spectral\/ folder or a package\.json/);
      const bad = tmpDir("bad-package");
      fs.writeFileSync(path.join(bad, "package.json"), "{ not json");
      assert.match((findIntegration(bad) as { error: string }).error, /package\.json is not valid JSON/);
    });
  });

  describe("reading the definition from codeNativeIntegrationYAML", () => {
    it("reads flows, trigger kinds, function keys, schedules and config variables", () => {
      const yaml = `
definitionVersion: 7
name: Demo
requiredConfigVars:
  - key: Api Base
    stableKey: api-base
    dataType: string
    defaultValue: http://x
  - key: Tags
    stableKey: tags
    dataType: string
    collectionType: valuelist
    defaultValue: '["a","b"]'
flows:
  - name: Nightly
    stableKey: nightly
    steps:
      - name: On Trigger
        isTrigger: true
        action: { key: schedule, component: { key: schedule-triggers, isPublic: true } }
        schedule: { type: value, value: "0 2 * * *", meta: { scheduleType: custom, timeZone: America/New_York } }
      - name: On Execution
        action: { key: nightly_onExecution, component: { key: KEY, isPublic: false } }
  - name: Hook
    stableKey: hook
    isSynchronous: true
    endpointSecurityType: customer_required
    steps:
      - name: On Trigger
        isTrigger: true
        action: { key: hook_onTrigger, component: { key: KEY, isPublic: false } }
      - name: On Execution
        action: { key: hook_onExecution, component: { key: KEY, isPublic: false } }
  - name: Setup
    stableKey: setup
    steps:
      - name: On Trigger
        isTrigger: true
        action: { key: instanceDeploy, component: { key: management-triggers, isPublic: true } }
      - name: On Execution
        action: { key: setup_onExecution, component: { key: KEY, isPublic: false } }
`;
      const d = readDefinition(yaml, "KEY");
      assert.equal(d.name, "Demo");
      assert.deepEqual(
        d.flows.map((f) => [f.name, f.triggerKind, f.triggerKey, f.executionKey, f.isSynchronous]),
        [
          ["Nightly", "SCHEDULE", null, "nightly_onExecution", false],
          ["Hook", "WEBHOOK", "hook_onTrigger", "hook_onExecution", true],
          ["Setup", "INSTANCE_DEPLOY", null, "setup_onExecution", false],
        ],
      );
      assert.deepEqual(d.flows[0].schedule, { type: "value", cron: "0 2 * * *", timeZone: "America/New_York" });
      assert.equal(d.flows[1].endpointSecurityType, "customer_required");
      assert.deepEqual(
        d.configVars.map((v) => [v.key, v.defaultValue, v.collectionType]),
        [
          ["Api Base", "http://x", null],
          ["Tags", '["a","b"]', "valuelist"],
        ],
      );
      // Another load's key does not own these steps.
      assert.throws(() => readDefinition(yaml, "OTHER"), /does not have the two steps/);
    });

    it("refuses YAML it cannot run, naming what is wrong", () => {
      assert.throws(() => readDefinition("name: x", "K"), /no flows/);
      const twin = (name: string) => `
  - name: ${name}
    stableKey: same
    steps:
      - { name: On Trigger, isTrigger: true, action: { key: webhook, component: { key: webhook-triggers, isPublic: true } } }
      - { name: On Execution, action: { key: ${name}_onExecution, component: { key: K, isPublic: false } } }`;
      assert.throws(() => readDefinition(`name: x\nflows:${twin("a")}${twin("b")}`, "K"), /flows "a" and "b" collide/);
      const foreign = `name: x
flows:
  - name: Slack
    stableKey: slack
    steps:
      - { name: On Trigger, isTrigger: true, action: { key: message, component: { key: slack, isPublic: true } } }
      - { name: On Execution, action: { key: slack_onExecution, component: { key: K, isPublic: false } } }`;
      assert.throws(() => readDefinition(foreign, "K"), /uses trigger slack\/message, which Refract cannot run locally/);
    });
  });

  describe("building and rebuilding", function () {
    this.timeout(60_000);
    /** A Loader on a fresh copy of the basic fixture, and the outcomes it reports. */
    const coldLoader = () => {
      const workspace = copyFixture("basic");
      const outcomes: BuildOutcome[] = [];
      // Every good bundle serves, as the runtime tells the loader once its integration() loads.
      const loader: Loader = new Loader(workspace, path.join(workspace, ".refract/builds"), (o) => (outcomes.push(o), o.ok && loader.serving(o.file)));
      return { workspace, outcomes, loader };
    };

    it("serves a workspace that does not build, says where the error is, and picks up the fix", async () => {
      const workspace = copyFixture("broken");
      const s = await startServer(workspace);
      try {
        const ready = JSON.parse(s.lines[0]);
        assert.equal(ready.event, "ready");
        assert.deepEqual(ready.integrations, []);
        assert.match(ready.build.error, /^src\/index\.ts:5:\d+: /);
        // Webhooks answer 503 naming the build error until a build succeeds.
        const res = await postJson(`${s.url}/trigger/SW5zdGFuY2VGbG93Q29uZmlnOng=`, {});
        assert.equal(res.status, 503);
        assert.match(res.json.error, /src\/index\.ts:5/);

        const file = path.join(workspace, "src/index.ts");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("({ data: 1 }) )]", "({ data: 1 }) })]").replace('stableKey: "a",', 'stableKey: "a", description: "a",'));
        await waitFor(() => lastBuild(s)?.ok === true, 30_000, "the fixed build");
        assert.equal(lastBuild(s).versionNumber, 1);
        const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
        const fc = s.runtime.instances.flowConfigsOf(system.id)[0];
        const run = await postJson(s.runtime.webhookUrl(fc.id), {});
        assert.equal((await s.waitForEnd(run.json.executionId)).status, "SUCCESS");
      } finally {
        await s.stop();
      }
    });

    it("reports a throwing integration() with the file, line and column of the throw", async () => {
      const s = await startServer(copyFixture("throws-on-load"));
      try {
        const ready = JSON.parse(s.lines[0]);
        assert.match(ready.build.error, /^src\/index\.ts:4:9: integration\(\) failed to load: Error: settings file is missing/);
      } finally {
        await s.stop();
      }
    });

    it("maps stacks to the TypeScript source in paths with parentheses and non-ASCII characters", async () => {
      // esbuild's source map percent-encodes "é" and "(" in its sources; stack frames name them as they are.
      const workspace = path.join(tmpDir("odd"), "proj (copy) é");
      fs.cpSync(copyFixture("basic"), workspace, { recursive: true });
      const helper = path.join(workspace, "src", "hé lper (1).ts");
      fs.writeFileSync(helper, 'export function fail(): never {\n  throw new Error("from the helper");\n}\n');
      const file = path.join(workspace, "src/index.ts");
      const good = fs.readFileSync(file, "utf8");
      fs.writeFileSync(file, `import { fail } from "./hé lper (1)";\n${good.replace('throw new Error("boom from the flow")', "fail()")}`);
      const s = await startServer(workspace);
      try {
        const x = await s.waitForEnd((await postJson(s.flows["Throws"], {})).json.executionId);
        assert.match(x.error!, /from the helper/);
        const { stack } = JSON.parse((await s.step(x, "onExecution")).data as string);
        assert.ok(stack.includes(`${helper}:2:9`), stack);
        fs.writeFileSync(file, `import { fail } from "./hé lper (1)";\nfail();\n${good}`);
        await waitFor(() => lastBuild(s)?.ok === false, 30_000, "the failed load");
        assert.match(lastBuild(s).error, /^src\/hé lper \(1\)\.ts:2:9: integration\(\) failed to load: Error: from the helper/);
      } finally {
        await s.stop();
      }
    });

    it("explains spectral's rejection of a deploy hook on a flow without onTrigger", async () => {
      const workspace = copyFixture("basic");
      fs.writeFileSync(
        path.join(workspace, "src/index.ts"),
        `import { flow, integration } from "@prismatic-io/spectral";
export default integration({
  name: "Hooks",
  description: "d",
  flows: [flow({ name: "Setup", stableKey: "setup", description: "d", onInstanceDeploy: async () => ({}), onExecution: async () => ({ data: 1 }) })],
});
`,
      );
      const s = await startServer(workspace);
      try {
        const error = JSON.parse(s.lines[0]).build.error;
        assert.match(error, /^src\/index\.ts:2:\d+: integration\(\) failed to load: Error: Invalid trigger configuration detected/);
        assert.match(error, /onInstanceDeploy or onInstanceDelete but no onTrigger/);
      } finally {
        await s.stop();
      }
    });

    it("serves esbuild's command-line build first on a cold start; the watch's first build finds the same bundle, async functions native in both", async () => {
      const { workspace, outcomes, loader } = coldLoader();
      try {
        await loader.start();
        assert.equal(outcomes.length, 1, "a bundle serves when start() returns");
        assert.ok(outcomes[0].ok && !outcomes[0].reused);
        await waitFor(() => outcomes.length === 2, 30_000, "the watch's first build");
        assert.deepEqual(outcomes[1], { ok: true, file: outcomes[0].file, reused: true });
        // Both builds made spectral's async functions native again (nativeAsync.ts).
        assert.doesNotMatch(fs.readFileSync(outcomes[0].file, "utf8"), /\b__awaiter\(/);
        assert.deepEqual(fs.readdirSync(path.join(workspace, ".refract/builds")).sort(), [path.basename(outcomes[0].file), `${path.basename(outcomes[0].file)}.map`, "last.json"]);
      } finally {
        await loader.stop();
      }
    });

    it("watches nothing after stop(), even when stop() comes while start-up still builds", async () => {
      const { workspace, outcomes, loader } = coldLoader();
      const starting = loader.start();
      await loader.stop();
      await starting;
      const seen = outcomes.length;
      await new Promise((r) => setTimeout(r, BACKGROUND_AFTER_MS + 500));
      const file = path.join(workspace, "src/index.ts");
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"trace line"', '"trace line, after stop"'));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(outcomes.length, seen, "no build after stop()");
    });

    it("rebuilds on change with the next versionNumber, keeps ids, and keeps the last good build serving after a bad change", async () => {
      const workspace = copyFixture("basic");
      const s = await startServer(workspace);
      try {
        const file = path.join(workspace, "src/index.ts");
        const original = fs.readFileSync(file, "utf8");
        const first = await postJson(s.flows["Echo"], {});
        assert.equal((await s.waitForEnd(first.json.executionId)).versionNumber, 1);
        const flowIds = { ...s.runtime.integration!.meta.flowIds };

        // Version 2 also renames the integration: same ids, and the system instance follows the name.
        fs.writeFileSync(file, original.replace('"trace line"', '"trace line v2"').replace('name: "Fixture Basic",', 'name: "Fixture Basic Renamed",'));
        await waitFor(() => lastBuild(s)?.versionNumber === 2, 30_000, "version 2");
        const second = await postJson(s.flows["Echo"], {});
        const x2 = await s.waitForEnd(second.json.executionId);
        assert.equal(x2.versionNumber, 2);
        assert.ok((await s.runtime.logs.ofExecution(x2)).some((l) => l.message === "trace line v2"));
        assert.deepEqual(s.runtime.integration!.meta.flowIds, flowIds, "flow ids survive a rebuild");
        // Workers keep no build that nothing runs on (each rebuild used to leave ~18 MB behind).
        for (const w of (s.runtime as any).pool.workers) assert.ok(!w.versions.has(1), `worker ${w.id} still holds build 1`);
        const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
        assert.equal(system.name, "Fixture Basic Renamed (test)");
        assert.equal(s.runtime.instances.all.filter((i) => i.isSystem).length, 1);

        fs.writeFileSync(file, original + "\nconst broken: number = ;\n");
        await waitFor(() => lastBuild(s)?.ok === false, 30_000, "the failed build");
        assert.match(lastBuild(s).error, /^src\/index\.ts:\d+:\d+: /);
        assert.equal(lastBuild(s).versionNumber, 2, "the failed build reports the version still serving");
        const third = await postJson(s.flows["Echo"], {});
        const x3 = await s.waitForEnd(third.json.executionId);
        assert.equal(x3.status, "SUCCESS");
        assert.equal(x3.versionNumber, 2);

        // A build whose integration() throws also keeps version 2 serving.
        fs.writeFileSync(file, original.replace("export default integration({", 'throw new Error("load-time failure");\nexport default integration({'));
        await waitFor(() => /load-time failure/.test(lastBuild(s)?.error ?? ""), 30_000, "the load failure");
        assert.match(lastBuild(s).error, /^src\/index\.ts:\d+:\d+: integration\(\) failed to load/);
        assert.equal((await postJson(s.flows["Echo"], {})).status, 200);
      } finally {
        await s.stop();
      }
    });

    it("keeps integration, flow and flow config ids and webhook URLs across restarts; a restart is a new version only when the sources changed", async () => {
      const workspace = copyFixture("basic");
      const readyOf = async () => {
        const s = await startServer(workspace);
        await s.stop();
        return JSON.parse(s.lines[0]).integrations[0];
      };
      const first = await readyOf();
      const second = await readyOf();
      assert.equal(second.id, first.id);
      const urls = (i: any) => i.flows.map((f: any) => [f.id, new URL(f.testUrl).pathname]);
      assert.deepEqual(urls(second), urls(first));
      assert.equal(second.versionNumber, first.versionNumber, "the previous run's bundle serves again");

      const file = path.join(workspace, "src/index.ts");
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"trace line"', '"trace line, edited while stopped"'));
      const third = await readyOf();
      assert.equal(third.versionNumber, first.versionNumber + 1);
      assert.deepEqual(urls(third), urls(first));

      // Sources that do not build at a restart: the last good build serves, and the ready line
      // says why (start-up used to delete that bundle, and every webhook answered 503).
      const good = fs.readFileSync(file, "utf8");
      fs.writeFileSync(file, good + "\nconst broken: number = ;\n");
      const s = await startServer(workspace);
      try {
        const ready = JSON.parse(s.lines[0]).integrations[0];
        assert.equal(ready.versionNumber, third.versionNumber);
        assert.equal(ready.build.ok, false);
        assert.match(ready.build.error, /^src\/index\.ts:\d+:\d+: /);
        const x = await s.waitForEnd((await postJson(s.flows["Echo"], {})).json.executionId);
        assert.equal(x.status, "SUCCESS");
        assert.equal(x.versionNumber, third.versionNumber);
      } finally {
        await s.stop();
      }
      // Nor when they build but their integration() throws (that bundle never served: it used to
      // become the one a restart keeps, and the last good build was deleted).
      fs.writeFileSync(file, good.replace("export default integration({", 'throw new Error("bad config");\nexport default integration({'));
      for (let restart = 0; restart < 2; restart++) {
        const t = await startServer(workspace);
        try {
          const ready = JSON.parse(t.lines[0]).integrations[0];
          assert.equal(ready?.versionNumber, third.versionNumber, `restart ${restart}: the last good build serves`);
          assert.match(ready.build.error, /^src\/index\.ts:\d+:\d+: integration\(\) failed to load: Error: bad config/);
          const x = await t.waitForEnd((await postJson(t.flows["Echo"], {})).json.executionId);
          assert.equal(x.versionNumber, third.versionNumber);
        } finally {
          await t.stop();
        }
      }
      // Sources touched but unchanged (an editor's save, a revert) build the same bundle: no new version.
      fs.writeFileSync(file, good);
      assert.equal((await readyOf()).versionNumber, third.versionNumber);

      // Another entry is another bundle, even with every source unchanged.
      fs.writeFileSync(path.join(workspace, "src/other.ts"), fs.readFileSync(file, "utf8").replace('name: "Fixture Basic"', 'name: "Fixture Other"'));
      const other = await startServer(workspace, { entry: "src/other.ts" });
      await other.stop();
      assert.equal(JSON.parse(other.lines[0]).integrations[0].name, "Fixture Other");
    });

    it("ends the load of a build whose top-level code never returns at the time limit; the last good build serves meanwhile", async () => {
      const workspace = copyFixture("basic");
      const s = await startServer(workspace, { executionTimeoutS: 2 });
      try {
        const file = path.join(workspace, "src/index.ts");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("export default integration({", "for (;;) {}\nexport default integration({"));
        // While one worker is stuck loading it, executions go to the other (one sent to the stuck
        // worker waited there and ended in ERROR with it).
        await waitFor(() => (s.runtime as any).pool.workers.some((w: any) => w.loading.has(2)), 30_000, "the stuck build's load");
        const during = await Promise.all([1, 2, 3, 4].map(() => postJson(s.flows["Echo"], {})));
        for (const res of during) {
          const x = await s.waitForEnd(res.json.executionId, 30_000);
          assert.equal(x.status, "SUCCESS", x.error ?? "");
          assert.equal(x.versionNumber, 1);
        }
        await waitFor(() => lastBuild(s)?.ok === false, 30_000, "the stuck build's failure");
        assert.match(lastBuild(s).error, /loading build 2 did not finish within 2 s: the integration's top-level code or integration\(\) never returned/);
        const x = await s.waitForEnd((await postJson(s.flows["Echo"], {})).json.executionId, 30_000);
        assert.equal(x.status, "SUCCESS");
        assert.equal(x.versionNumber, 1);
      } finally {
        await s.stop();
      }
    });

    it("at start-up, loads a build whose load hangs once, not again for the watch's first build", async () => {
      const workspace = copyFixture("basic");
      const loads = path.join(workspace, "loads.txt");
      const file = path.join(workspace, "src/index.ts");
      const hang = `require("node:fs").appendFileSync(${JSON.stringify(loads)}, "load\\n");\nfor (;;) {}\n`;
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("export default integration({", `${hang}export default integration({`));
      const s = await startServer(workspace, { executionTimeoutS: 2 });
      try {
        assert.match(JSON.parse(s.lines[0]).build.error, /did not finish within 2 s/);
        await new Promise((r) => setTimeout(r, 3000)); // the watch's first build is in by now
        assert.equal(fs.readFileSync(loads, "utf8"), "load\n");
      } finally {
        await s.stop();
      }
    });

    it("ends a load that hangs as soon as a newer build waits: a fix is picked up in seconds, not at the time limit", async () => {
      const workspace = copyFixture("basic");
      const s = await startServer(workspace, { executionTimeoutS: 120 });
      try {
        const file = path.join(workspace, "src/index.ts");
        const good = fs.readFileSync(file, "utf8");
        fs.writeFileSync(file, good.replace("export default integration({", "for (;;) {}\nexport default integration({"));
        await waitFor(() => (s.runtime as any).pool.workers.some((w: any) => w.loading.has(2)), 30_000, "the stuck build's load");
        const since = Date.now();
        fs.writeFileSync(file, good.replace('"trace line"', '"trace line, fixed"'));
        await waitFor(() => lastBuild(s)?.ok === true && lastBuild(s).versionNumber === 2, 20_000, "the fix to serve");
        assert.ok(Date.now() - since < 20_000);
        assert.ok(s.lines.some((l) => /loading build 2 had not finished after 5 s, and a newer build waits/.test(l)), "the hung build is reported");
        const x = await s.waitForEnd((await postJson(s.flows["Echo"], {})).json.executionId, 30_000);
        assert.equal(x.versionNumber, 2);
      } finally {
        await s.stop();
      }
    });

    it("blames no execution for an exception the integration's top-level code throws later (a timer it set)", async () => {
      const workspace = copyFixture("basic");
      const file = path.join(workspace, "src/index.ts");
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("export default integration({", 'setTimeout(() => {\n  throw new Error("top-level timer");\n}, 1500);\nexport default integration({'));
      const s = await startServer(workspace, { workers: 1 });
      try {
        // Running when the timer fires in its worker: it used to be named as the cause, being the only one there.
        const x = await s.waitForEnd((await postJson(`${s.flows["Echo"]}?sleep=10000`, {})).json.executionId, 30_000);
        assert.equal(x.status, "ERROR");
        assert.match(x.error!, /^Its worker stopped while 1 executions ran in it: uncaught exception outside any execution \(in the integration's top-level code, or a timer or listener it set up\): Error: top-level timer/);
      } finally {
        await s.stop();
      }
    });

    it("serves a folder with no integration and picks one up when it appears", async () => {
      const workspace = tmpDir("empty-workspace");
      const s = await startServer(workspace);
      try {
        assert.match(JSON.parse(s.lines[0]).build.error, /no integration in/);
        fs.cpSync(path.join(ROOT, "test/fixtures/basic"), workspace, { recursive: true });
        await waitFor(() => lastBuild(s)?.ok === true, 30_000, "the integration to appear");
        assert.equal(s.runtime.integration!.meta.name, "Fixture Basic");
      } finally {
        await s.stop();
      }
    });
  });
});
