import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { TestServer, copyFixture, postJson, startServer, waitFor } from "../helpers";

describe("API queries over real executions", function () {
  let s: TestServer;
  const ids: Record<string, string> = {};

  before(async () => {
    s = await startServer(copyFixture("basic"));
    for (const [key, flow, body] of [
      ["echo1", "Echo", { n: 1 }],
      ["throws", "Throws", { n: 2 }],
      ["echo2", "Echo", { n: 3, needle: "Findable" }],
      ["binary", "Binary", {}],
    ] as const) {
      ids[key] = (await postJson(s.flows[flow], body)).json.executionId;
      await s.waitForEnd(ids[key]);
    }
  });
  after(() => s.stop());

  const EXECUTIONS = `query($first: Int, $after: String, $before: String, $last: Int, $orderBy: InstanceExecutionResultOrder, $status: ExecutionStatus, $error_Isnull: Boolean, $flow: ID, $id_In: [ID], $startedAt_Gte: DateTime) {
    executionResults(first: $first, after: $after, before: $before, last: $last, orderBy: $orderBy, status: $status, error_Isnull: $error_Isnull, flowConfig_Flow: $flow, id_In: $id_In, startedAt_Gte: $startedAt_Gte) {
      totalCount nodes { id } edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }`;
  const page = async (variables: Record<string, unknown>) => (await s.data(EXECUTIONS, variables)).executionResults;

  it("executionResults: newest first, filtered, paged with stable cursors", async () => {
    const all = await page({});
    assert.deepEqual(all.nodes.map((n: any) => n.id), [ids.binary, ids.echo2, ids.throws, ids.echo1]);
    assert.equal(all.totalCount, 4);
    assert.deepEqual((await page({ status: "ERROR" })).nodes.map((n: any) => n.id), [ids.throws]);
    assert.deepEqual((await page({ error_Isnull: true })).totalCount, 3);
    const echoFlow = s.runtime.store.executions.get(ids.echo1)!.scope.flowId;
    assert.deepEqual((await page({ flow: echoFlow })).nodes.map((n: any) => n.id), [ids.echo2, ids.echo1]);
    assert.deepEqual((await page({ id_In: [ids.echo1, "nope"] })).nodes.map((n: any) => n.id), [ids.echo1]);
    const since = new Date(s.runtime.store.executions.get(ids.echo2)!.startedAt).toISOString();
    assert.deepEqual((await page({ startedAt_Gte: since })).nodes.map((n: any) => n.id), [ids.binary, ids.echo2]);
    assert.deepEqual((await page({ orderBy: { field: "STARTED_AT", direction: "ASC" }, first: 1 })).nodes.map((n: any) => n.id), [ids.echo1]);

    // prism's first page sends after: ""; then the cursor carries on, and a new execution does not shift pages.
    const first = await page({ first: 2, after: "" });
    assert.deepEqual(first.nodes.map((n: any) => n.id), [ids.binary, ids.echo2]);
    assert.equal(first.pageInfo.hasNextPage, true);
    assert.equal(first.pageInfo.hasPreviousPage, false);
    const newer = (await postJson(s.flows["Echo"], { n: 4 })).json.executionId;
    await s.waitForEnd(newer);
    const second = await page({ first: 2, after: first.pageInfo.endCursor });
    assert.deepEqual(second.nodes.map((n: any) => n.id), [ids.throws, ids.echo1]);
    assert.equal(second.pageInfo.hasNextPage, false);
    assert.equal(second.pageInfo.hasPreviousPage, true);
    const before = await page({ last: 1, before: first.pageInfo.startCursor });
    assert.deepEqual(before.nodes.map((n: any) => n.id), [newer]);
  });

  it("executionResults: an empty _In list filters nothing, as in logs", async () => {
    const total = async (filter: string) => (await s.data(`{ executionResults${filter} { totalCount } }`)).executionResults.totalCount;
    const all = await total("");
    assert.ok(all > 0);
    for (const filter of ["(invokeType_In: [])", "(resultType_In: [])", "(id_In: [])"]) assert.equal(await total(filter), all, filter);
    assert.equal(await total(`(invokeType_In: ["SCHEDULED"])`), 0);
  });

  it("executionResults: a bad cursor, page size or date is an error, not an empty page", async () => {
    for (const [variables, message] of [
      [{ after: "garbage" }, /after: "garbage" is not a cursor/],
      [{ after: Buffer.from("[1]").toString("base64url") }, /is not a cursor/],
      [{ first: 1001 }, /first must be at most 1000/],
      [{ first: -1 }, /first must not be negative/],
      [{ startedAt_Gte: "yesterday" }, /not an ISO-8601 date, or date-time with an offset/],
      [{ startedAt_Gte: "March 7 2026" }, /not an ISO-8601 date, or date-time with an offset/], // Date.parse takes it
      [{ startedAt_Gte: "2026-02-30T00:00:00Z" }, /not an ISO-8601 date, or date-time with an offset/], // Date.parse rolls it into March
      [{ startedAt_Gte: "2026-11-28T10:00:00" }, /not an ISO-8601 date, or date-time with an offset/], // Date.parse reads it in the server's time zone
      [{ status: "DONE" }, /ExecutionStatus/],
    ] as const) {
      const { json } = await s.api(EXECUTIONS, variables);
      assert.match(json.errors[0].message, message, JSON.stringify(variables));
    }
  });

  it("executionResult: everything about one execution, and null for an id that is not one", async () => {
    const { executionResult: x } = await s.data(
      `query($id: ID!) { executionResult(id: $id) {
        id status resultType invokeType isTestExecution startedAt runStartedAt endedAt error versionNumber stepCount retryCount
        flow { name } instance { isSystem } flowConfig { id } integration { name }
        lineage { hasChildren invokedBy { execution { id } } } replayForExecution { id } retryForExecution { id }
        replays { totalCount } retries { totalCount } invokedExecutions { totalCount }
        stepResults { totalCount nodes { stepName displayStepName hasError } }
        logs(first: 1, orderBy: {field: TIMESTAMP, direction: DESC}) { nodes { message severity } }
        requestPayloadUrl
      } }`,
      { id: ids.throws },
    );
    assert.equal(x.status, "ERROR");
    assert.equal(x.resultType, "ERROR");
    assert.equal(x.invokeType, "INTEGRATION_FLOW_TEST");
    assert.equal(x.isTestExecution, true);
    assert.match(x.error, /./);
    assert.ok(Date.parse(x.runStartedAt) >= Date.parse(x.startedAt) && Date.parse(x.endedAt) >= Date.parse(x.runStartedAt));
    assert.equal(x.versionNumber, 1);
    assert.equal(x.flow.name, "Throws");
    assert.equal(x.instance.isSystem, true);
    assert.equal(x.integration.name, "Fixture Basic");
    assert.deepEqual(x.lineage, { hasChildren: false, invokedBy: null });
    assert.equal(x.replayForExecution, null);
    assert.deepEqual([x.replays.totalCount, x.retries.totalCount, x.invokedExecutions.totalCount], [0, 0, 0]);
    assert.equal(x.stepCount, x.stepResults.totalCount);
    assert.ok(x.stepResults.nodes.some((n: any) => n.hasError));
    assert.match(x.logs.nodes[0].message, /^Ending Instance Execution \(ERROR/);
    const request: any = await (await fetch(x.requestPayloadUrl)).json();
    assert.deepEqual(JSON.parse(Buffer.from(request.body, "base64").toString()), { n: 2 });
    for (const id of ["nope", "", Buffer.from("InstanceExecutionResult:00000000-0000-0000-0000-000000000000").toString("base64")]) {
      assert.equal((await s.data(`query($id: ID!) { executionResult(id: $id) { id } }`, { id })).executionResult, null);
    }
  });

  it("stepResults and stepResult: by execution, name, display name; ids round-trip", async () => {
    const { stepResults } = await s.data(`query($x: ID) { stepResults(executionResult: $x, displayStepName: "On Execution") { nodes { id stepName resultsUrl executionResult { id } } } }`, { x: ids.echo1 });
    assert.equal(stepResults.nodes.length, 1);
    const [step] = stepResults.nodes;
    assert.equal(step.stepName, "onExecution");
    assert.equal(step.executionResult.id, ids.echo1);
    const again = await s.data(`query($id: ID!) { stepResult(id: $id) { id stepName } }`, { id: step.id });
    assert.deepEqual(again.stepResult, { id: step.id, stepName: "onExecution" });
    assert.equal((await s.data(`{ stepResult(id: "bm9wZQ==") { id } }`)).stepResult, null);
    const byName = await s.data(`query($x: ID) { stepResults(executionResult: $x, stepName: "onTrigger") { totalCount } }`, { x: ids.echo1 });
    assert.equal(byName.stepResults.totalCount, 1);
    const loops = await s.data(`query($x: ID) { stepResults(executionResult: $x, isLoopStep: true) { totalCount } }`, { x: ids.echo1 });
    assert.equal(loops.stepResults.totalCount, 0, "code-native steps are never loop steps");
    assert.deepEqual((await s.data(`{ executionSections { totalCount nodes { sectionId } } }`)).executionSections, { totalCount: 0, nodes: [] });
  });

  const LOGS = `query($x: ID, $severity: Int, $severity_In: [LogSeverityLevel], $text: String, $gte: DateTime, $lte: DateTime, $first: Int, $after: String, $orderBy: LogOrder, $instance: ID) {
    logs(executionResult: $x, severity: $severity, severity_In: $severity_In, message_Icontains: $text, timestamp_Gte: $gte, timestamp_Lte: $lte, first: $first, after: $after, orderBy: $orderBy, instance: $instance) {
      totalCount edges { cursor node { id message severity stepName timestamp executionResultId flowName instanceName customerName logType } } pageInfo { hasNextPage endCursor }
    }
  }`;
  const logs = async (variables: Record<string, unknown>) => (await s.data(LOGS, variables)).logs;
  const ASC = { field: "TIMESTAMP", direction: "ASC" };

  it("logs: filters by execution, severity (id or list), text and time, in either order", async () => {
    const all = await logs({ x: ids.echo1, orderBy: ASC });
    assert.equal(all.edges[0].node.message, "Starting Instance Execution...");
    assert.equal(all.edges[0].node.flowName, "Echo");
    assert.equal(all.edges[0].node.logType, "EXECUTION");
    assert.equal(all.edges[0].node.customerName, "Refract Test Customer");
    const desc = await logs({ x: ids.echo1 });
    assert.deepEqual(desc.edges.map((e: any) => e.node.id), all.edges.map((e: any) => e.node.id).reverse(), "newest first by default");
    assert.deepEqual((await logs({ x: ids.echo1, severity: 5 })).edges.map((e: any) => e.node.message), ["error line"]);
    const warnOrError = await logs({ x: ids.echo1, severity_In: ["WARN", "ERROR"], orderBy: ASC });
    assert.ok(warnOrError.edges.every((e: any) => ["WARN", "ERROR"].includes(e.node.severity)));
    assert.ok(warnOrError.totalCount >= 3);
    // An empty list filters nothing: the count and the page agree (the count said 0 over a full page).
    const everything = await logs({ first: 3 });
    for (const severity_In of [[], [null]]) {
      const none = await logs({ severity_In, first: 3 });
      assert.equal(none.totalCount, everything.totalCount);
      assert.equal(none.edges.length, 3);
    }
    const found = await logs({ text: "FINDABLE" });
    assert.equal(found.totalCount, 0, "the needle is in the payload, not in a log message");
    const info = await logs({ text: "info LINE" });
    assert.ok(info.totalCount >= 2, "case-insensitive, across executions");
    assert.ok(info.edges.every((e: any) => e.node.message.toLowerCase().includes("info line")));
    assert.equal(new Set(info.edges.map((e: any) => e.node.executionResultId)).size, info.totalCount);
    const x = s.runtime.store.executions.get(ids.echo1)!;
    const window = await logs({ gte: new Date(x.startedAt).toISOString(), lte: new Date(x.endedAt!).toISOString(), orderBy: ASC });
    assert.ok(window.edges.every((e: any) => Date.parse(e.node.timestamp) >= x.startedAt && Date.parse(e.node.timestamp) <= x.endedAt!));
    assert.ok(window.edges.some((e: any) => e.node.executionResultId === ids.echo1));
    const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
    assert.equal((await logs({ instance: system.id })).totalCount, (await logs({})).totalCount);
    assert.equal((await logs({ instance: "nope" })).totalCount, 0);
  });

  it("logs: cursors are exclusive and stable, so tailing sees each new line once", async () => {
    const head = await logs({ orderBy: ASC, first: 5 });
    const rest = await logs({ orderBy: ASC, after: head.pageInfo.endCursor, first: 1000 });
    const everything = await logs({ orderBy: ASC, first: 1000 });
    assert.deepEqual([...head.edges, ...rest.edges].map((e: any) => e.node.id), everything.edges.map((e: any) => e.node.id));
    // first with last keeps the end of the first page, as every connection does; last counts from the end, so offset with it is refused.
    const window = await s.data(`{ logs(first: 3, last: 2, orderBy: {field: TIMESTAMP, direction: ASC}) { nodes { id } } }`);
    assert.deepEqual(window.logs.nodes.map((n: any) => n.id), everything.edges.slice(1, 3).map((e: any) => e.node.id));
    assert.match((await s.api(`{ logs(last: 2, offset: 1) { nodes { id } } }`)).json.errors[0].message, /offset counts from the start/);
    const tail = rest.pageInfo.endCursor;
    assert.equal((await logs({ orderBy: ASC, after: tail })).edges.length, 0, "nothing new yet");
    const next = (await postJson(s.flows["Echo"], { tail: true })).json.executionId;
    await s.waitForEnd(next);
    const fresh = await logs({ orderBy: ASC, after: tail });
    assert.ok(fresh.edges.length > 0 && fresh.edges.every((e: any) => e.node.executionResultId === next));
    const { log } = await s.data(`query($id: ID!) { log(id: $id) { id message } }`, { id: fresh.edges[0].node.id });
    assert.equal(log.message, fresh.edges[0].node.message);
    for (const [variables, message] of [
      [{ after: "bm9wZQ==" }, /not a log cursor/],
      // Well formed, but no line of this server starts there: a day it has no log of, the middle of a line.
      [{ after: Buffer.from("Log:2000-01-01:0").toString("base64") }, /not a log cursor/],
      [{ after: Buffer.from(Buffer.from(tail, "base64").toString().replace(/\d+$/, (n) => String(Number(n) + 5))).toString("base64") }, /not a log cursor/],
      [{ severity: 9 }, /9 is not a severity id/],
      [{ orderBy: { field: "MESSAGE", direction: "ASC" } }, /ordered by TIMESTAMP only/],
      [{ gte: "soon" }, /not an ISO-8601 date, or date-time with an offset/],
      [{ gte: "2025-02-29" }, /not an ISO-8601 date, or date-time with an offset/],
      [{ text: "x".repeat(50_000) }, /^message_Icontains: the search term is 50000 characters long; at most 1000 are searched for$/],
    ] as const) {
      const { json } = await s.api(LOGS, variables);
      assert.match(json.errors[0].message, message, JSON.stringify(variables));
    }
    assert.equal((await s.data(`{ log(id: "TG9nOjIwMjAtMDEtMDE6MA==") { id } }`)).log, null);
    // An id that is not a log's at all, as the other lookups by id answer it.
    const instanceId = (await s.data(`{ instances { nodes { id } } }`)).instances.nodes[0].id;
    assert.equal((await s.data(`query($id: ID!) { log(id: $id) { id } }`, { id: instanceId })).log, null);
    assert.equal((await s.data(`{ log(id: "garbage") { id } }`)).log, null);
  });

  it("logHistogram counts the same lines as logs, by severity", async () => {
    const x = s.runtime.store.executions.get(ids.echo1)!;
    const { logHistogram } = await s.data(`query($x: ID) { logHistogram(executionResult: $x, buckets: 4) { start end counts { severity count } } }`, { x: ids.echo1 });
    assert.equal(logHistogram.length, 4);
    assert.equal(Date.parse(logHistogram[0].start), x.startedAt);
    const total = logHistogram.flatMap((b: any) => b.counts).reduce((n: number, c: any) => n + c.count, 0);
    assert.equal(total, (await logs({ x: ids.echo1 })).totalCount);
    const errors = logHistogram.flatMap((b: any) => b.counts).filter((c: any) => c.severity === "ERROR");
    assert.equal(errors.reduce((n: number, c: any) => n + c.count, 0), 1);
    const { json } = await s.api(`{ logHistogram(buckets: 0) { start } }`);
    assert.match(json.errors[0].message, /buckets must be between 1 and 1000/);
    // A range of fewer milliseconds than buckets gets fewer buckets, each inside the range.
    const at = new Date(x.startedAt).toISOString();
    const narrow = async (lte: number, buckets: number) =>
      (await s.data(`query($gte: DateTime, $lte: DateTime, $b: Int) { logHistogram(timestamp_Gte: $gte, timestamp_Lte: $lte, buckets: $b) { start end } }`, { gte: at, lte: new Date(x.startedAt + lte).toISOString(), b: buckets })).logHistogram;
    assert.deepEqual(await narrow(0, 4), [{ start: at, end: at }]);
    const two = await narrow(1, 5);
    assert.equal(two.length, 2);
    assert.ok(two.every((b: any) => Date.parse(b.start) <= Date.parse(b.end) && Date.parse(b.end) <= x.startedAt + 1));
    assert.equal((await narrow(59, 60)).length, 60, "60 ms in 60 buckets");
    assert.equal((await narrow(60, 60)).length, 31, "61 ms: 2 ms buckets, so 31 of them");
  });

  it("integration, instances, flow configs and the local user", async () => {
    const current = s.runtime.integration!;
    const { integration, authenticatedUser, listUserTenants } = await s.data(
      `query($id: ID!) {
        integration(id: $id) { id name versionNumber isCodeNative systemInstance { id isSystem customer { name } flowConfigs { nodes { id webhookUrl flow { name } } } }
          flows(first: 2) { totalCount nodes { name stableKey testUrl triggerKind isSynchronous endpointSecurityType schedule { cron } } } }
        authenticatedUser { id name email org { name } }
        listUserTenants { nodes { orgName tenantId } }
      }`,
      { id: current.meta.id },
    );
    assert.equal(integration.versionNumber, current.meta.versionNumber);
    assert.equal(integration.isCodeNative, true);
    assert.equal(integration.systemInstance.isSystem, true);
    assert.equal(integration.systemInstance.customer.name, "Refract Test Customer");
    assert.equal(integration.flows.nodes[0].testUrl, s.flows[integration.flows.nodes[0].name]);
    assert.equal(integration.flows.nodes[1].isSynchronous, true);
    assert.equal(integration.flows.nodes[0].triggerKind, "WEBHOOK");
    assert.equal(integration.flows.nodes[0].schedule, null);
    assert.equal(integration.flows.totalCount, current.definition.flows.length);
    const fc = integration.systemInstance.flowConfigs.nodes[0];
    assert.equal(fc.webhookUrl, s.flows[fc.flow.name]);
    assert.equal((await s.data(`query($id: ID!) { instanceFlowConfig(id: $id) { flow { name } } }`, { id: fc.id })).instanceFlowConfig.flow.name, fc.flow.name);
    assert.equal(authenticatedUser.org.name, "Local");
    // Flows see the same user as the API's clients.
    const echo = await s.waitForEnd((await postJson(s.flows["Echo"], {})).json.executionId);
    const { user } = JSON.parse((await s.step(echo, "onExecution")).data as string);
    assert.deepEqual({ id: user.id, name: user.name, email: user.email }, { id: authenticatedUser.id, name: authenticatedUser.name, email: authenticatedUser.email });
    assert.deepEqual(listUserTenants.nodes, [{ orgName: "Local", tenantId: "local" }]);
    for (const query of [`{ integration(id: "nope") { id } }`, `{ instance(id: "nope") { id } }`, `{ customer(id: "nope") { id } }`, `{ instanceFlowConfig(id: "nope") { id } }`]) {
      assert.deepEqual(Object.values(await s.data(query)), [null], query);
    }
  });
});

describe("API queries after a flow is removed from the code", () => {
  it("lists and finds only the flow configs of flows the integration has; the removed flow's webhook URL comes back with it", async () => {
    const workspace = copyFixture("basic");
    const s = await startServer(workspace);
    try {
      const throwsUrl = s.flows["Throws"];
      const x = await s.waitForEnd((await postJson(throwsUrl, {})).json.executionId);
      const file = path.join(workspace, "src/index.ts");
      const source = fs.readFileSync(file, "utf8");
      const rebuilt = (n: number) => waitFor(() => s.runtime.build.versionNumber === n && s.runtime.build.ok, 30_000, `version ${n}`);
      fs.writeFileSync(file, source.replace('stableKey: "throws"', 'stableKey: "throws-renamed"')); // the flow "throws" is gone
      await rebuilt(2);
      const FLOW_CONFIGS = `query($id: ID!, $x: ID!) {
        instance(id: $id) { flowConfigs { nodes { id flow { stableKey } } } }
        executionResult(id: $x) { flowConfig { id } }
      }`;
      const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
      const after = await s.data(FLOW_CONFIGS, { id: system.id, x: x.id });
      const keys = after.instance.flowConfigs.nodes.map((n: any) => n.flow.stableKey);
      assert.ok(keys.includes("throws-renamed") && !keys.includes("throws"), keys.join(", "));
      assert.equal(after.executionResult.flowConfig, null, "the execution's flow config is no longer shown");
      assert.equal((await postJson(throwsUrl, {})).status, 404);

      fs.writeFileSync(file, source);
      await rebuilt(3);
      const back = await s.data(FLOW_CONFIGS, { id: system.id, x: x.id });
      assert.equal(back.executionResult.flowConfig.id, x.scope.flowConfigId);
      assert.equal((await postJson(throwsUrl, {})).status, 200, "the flow's webhook URL works again");
    } finally {
      await s.stop();
    }
  });
});
