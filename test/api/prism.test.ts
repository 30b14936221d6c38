import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, TestServer, copyFixture, startServer, tmpDir } from "../helpers";

/** The published prism CLI (a pinned dev dependency), unchanged, as a subprocess against the live server. */
const PRISM = path.join(ROOT, "node_modules", "@prismatic-io", "prism", "lib", "run.js");

interface PrismResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe("Prismatic's prism CLI against /api", function () {
  this.timeout(120_000);
  let s: TestServer;
  let home: string;

  /** Runs prism with the environment clients.md §1.1 recommends: the token from the environment, no profile, no update check. */
  const prism = (...args: string[]): Promise<PrismResult> =>
    new Promise((resolve) => {
      const env = {
        PATH: process.env.PATH!,
        HOME: home,
        PRISMATIC_URL: s.url,
        PRISM_ACCESS_TOKEN: s.token,
        PRISM_SKIP_NEW_VERSION_CHECK: "true",
        PRISM_CONFIG_FILE: path.join(home, "config.yml"),
        NO_PROXY: "127.0.0.1,localhost",
      };
      execFile(process.execPath, [PRISM, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }));
    });
  const ok = async (...args: string[]) => {
    const r = await prism(...args);
    assert.equal(r.code, 0, `prism ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  const json = async (...args: string[]) => JSON.parse(await ok(...args, "--output", "json"));

  let integrationId: string;
  let customerId: string;
  let instanceId: string;

  before(async () => {
    home = tmpDir("prism-home");
    s = await startServer(copyFixture("basic"));
    integrationId = s.runtime.integration!.meta.id;
  });
  after(() => s.stop());

  it("me: the local user, organization and tenant", async () => {
    const out = await ok("me");
    assert.match(out, /^Name: \S+/m);
    assert.match(out, /^Organization: Local$/m);
    assert.match(out, /^Tenant ID: local$/m);
    assert.match(out, new RegExp(`^Endpoint URL: ${s.url}$`, "m"));
  });

  it("customers:create and customers:list, with the error for a duplicate name on stderr", async () => {
    customerId = (await ok("customers:create", "-n", "Acme", "-d", "Acme Inc", "-e", "acme-1")).trim();
    assert.equal(s.runtime.instances.customer(customerId)?.name, "Acme");
    assert.deepEqual(await json("customers:list", "-x"), [{ id: customerId, externalId: "acme-1", name: "Acme", description: "Acme Inc" }]);
    const duplicate = await prism("customers:create", "-n", "Acme");
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /Error: name: Customer with this name already exists\./);
  });

  it("instances:deploy, instances:list and instances:flow-configs:list", async () => {
    const { data } = await s.api(
      `mutation($customer: ID!, $integration: ID!) { createInstance(input: {customer: $customer, integration: $integration, name: "Acme Echo", configVariables: [{key: "Api Secret", value: "s3cret"}]}) { instance { id } errors { field messages } } }`,
      { customer: customerId, integration: integrationId },
    ).then((r) => r.json);
    instanceId = data.createInstance.instance.id;
    assert.equal((await ok("instances:deploy", instanceId)).trim(), instanceId);
    assert.equal(s.runtime.instances.instance(instanceId)?.deployed, true);
    const listed = await json("instances:list", "-x");
    assert.deepEqual(listed, [{ id: instanceId, name: "Acme Echo", customer: "Acme", customerid: customerId, customerExternalId: "acme-1", description: "", enabled: "true" }]);
    const flowConfigs = await json("instances:flow-configs:list", instanceId, "-x");
    const echo = flowConfigs.find((f: any) => f.name === "Echo");
    assert.equal(echo.webhookUrl, s.runtime.webhookUrl(echo.id));
    assert.equal(flowConfigs.length, s.runtime.integration!.definition.flows.length);
    const configVars = await json("instances:config-vars:list", instanceId);
    assert.deepEqual(
      configVars.filter((v: any) => ["Api Base", "Api Secret"].includes(v.key)),
      [
        { key: "Api Base", value: "https://example.test", defaultValue: "https://example.test" },
        { key: "Api Secret", value: "s3cret", defaultValue: "" },
      ],
    );
  });

  it("integrations:versions lists the latest build, the one Refract keeps", async () => {
    const [version] = await json("integrations:versions", integrationId, "-x");
    const { email } = (await s.data("{ authenticatedUser { email } }")).authenticatedUser;
    assert.deepEqual({ ...version, versionCreatedAt: undefined }, { versionNumber: String(s.runtime.integration!.meta.versionNumber), id: integrationId, versionCreatedAt: undefined, versionCreatedBy: email, versionComment: "", available: "true" });
    assert.ok(Date.now() - Date.parse(version.versionCreatedAt) < 600_000, version.versionCreatedAt);
    assert.equal((await json("integrations:versions", integrationId, "--latest-available")).length, 1);
  });

  it("instances:flow-configs:test --tail prints the execution's log lines until it ends", async () => {
    const echo = s.runtime.instances.flowConfigsOf(instanceId).find((fc) => s.runtime.flowById(fc.flowId)?.name === "Echo")!;
    const out = await ok("instances:flow-configs:test", echo.id, "-p", '{"order": 7}', "-c", "application/json", "--tail");
    const lines = out.trim().split("\n");
    assert.match(lines[0], /^\S+Z INFO +Starting Instance Execution\.\.\./);
    assert.match(lines.at(-1)!, /INFO +Ending Instance Execution \(SUCCESS, \d+ ms\)/);
    assert.ok(lines.some((l) => /ERROR +error line/.test(l)));
  });

  it("integrations:flows:list and integrations:flows:test --cni-auto-end --tail-logs --tail-results", async () => {
    const flows = await json("integrations:flows:list", integrationId, "-x");
    const echo = flows.find((f: any) => f.name === "Echo");
    assert.equal(echo.testUrl, s.flows["Echo"]);
    const payload = path.join(home, "payload.json");
    fs.writeFileSync(payload, JSON.stringify({ hello: "prism" }));
    const out = await ok("integrations:flows:test", "-i", integrationId, "-f", echo.id, "-p", payload, "-c", "application/json", "--cni-auto-end", "--tail-logs", "--tail-results", "--quiet");
    const executionId = /"executionId": "([^"]+)"/.exec(out)![1];
    const x = s.runtime.store.executions.get(executionId)!;
    assert.equal(x.invokeType, "INTEGRATION_FLOW_TEST");
    assert.match(out, /LOG_INFO +Starting Instance Execution/);
    assert.match(out, /LOG_INFO +Ending Instance Execution \(SUCCESS/);
    const onExecution = out.split("\n").find((l) => l.includes("STEP_onExecution"))!;
    const result = JSON.parse(onExecution.slice(onExecution.indexOf("{")).trim());
    assert.equal(result.contentType, "application/json");
    assert.deepEqual(JSON.parse(result.data).body, { hello: "prism" });
  });

  it("executions:step-result:get prints a step's decoded output, and says so for an unknown step", async () => {
    const x = [...s.runtime.store.executions.values()].find((e) => e.scope.instanceId === instanceId)!;
    const out = await ok("executions:step-result:get", "-e", x.id, "-s", "On Execution");
    assert.deepEqual(JSON.parse(out).body, { order: 7 });
    const unknown = await prism("executions:step-result:get", "-e", x.id, "-s", "No Such Step");
    assert.equal(unknown.code, 0);
    assert.match(unknown.stderr + unknown.stdout, /No step results found/);
  });

  it("logs:severities:list lists Refract's numbering", async () => {
    assert.equal((await ok("logs:severities:list", "-x", "--csv")).trim(), "Id,Name\n1,TRACE\n2,DEBUG\n3,INFO\n4,WARN\n5,ERROR\n6,FATAL\n7,METRIC");
  });

  it("graphql:query runs any document, with variables", async () => {
    const out = await ok("graphql:query", "query($id: ID!) { instance(id: $id) { name customer { name } flowConfigs { totalCount } } }", "-v", JSON.stringify({ id: instanceId }));
    assert.deepEqual(JSON.parse(out), { instance: { name: "Acme Echo", customer: { name: "Acme" }, flowConfigs: { totalCount: s.runtime.integration!.definition.flows.length } } });
    const bad = await prism("graphql:query", "{ nothingHere }");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Cannot query field "nothingHere"/);
  });

  it("a wrong token gets prism's not-authenticated error", async () => {
    const token = s.token;
    (s as any).token = "wrong";
    try {
      const r = await prism("customers:list");
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Not authenticated/);
    } finally {
      (s as any).token = token;
    }
  });
});
