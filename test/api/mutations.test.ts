import * as assert from "node:assert/strict";
import { TestServer, copyFixture, postJson, startServer, waitFor } from "../helpers";

/** The payload of a mutation, asserting it has no `errors`. */
async function mutate(s: TestServer, document: string, variables: Record<string, unknown> = {}): Promise<any> {
  const data = await s.data(document, variables);
  const payload = Object.values(data)[0] as any;
  assert.deepEqual(payload.errors, [], JSON.stringify(payload.errors));
  return payload;
}

/** The `errors` of a mutation that must fail. */
async function refused(s: TestServer, document: string, variables: Record<string, unknown> = {}): Promise<Array<{ field: string; messages: string[] }>> {
  const payload = Object.values(await s.data(document, variables))[0] as any;
  assert.ok(payload.errors.length > 0, "the mutation should have been refused");
  return payload.errors;
}

describe("API mutations: customers, instances, deploys and tests (lifecycle fixture)", function () {
  let s: TestServer;
  let integrationId: string;
  let customerId: string;
  let instanceId: string;
  const flowId = (name: string) => s.runtime.integration!.meta.flowIds[s.runtime.integration!.definition.flows.find((f) => f.name === name)!.stableKey];

  before(async () => {
    s = await startServer(copyFixture("lifecycle"));
    integrationId = s.runtime.integration!.meta.id;
  });
  after(() => s.stop());

  const CREATE_CUSTOMER = `mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id name description externalId labels } errors { field messages } } }`;

  it("createCustomer, updateCustomer: fields, labels, and errors in the payload for bad input", async () => {
    const created = await mutate(s, CREATE_CUSTOMER, { input: { name: " Initech ", description: "TPS", externalId: "ini-1", labels: ["big", "big", "eu"] } });
    customerId = created.customer.id;
    assert.deepEqual(created.customer, { id: customerId, name: "Initech", description: "TPS", externalId: "ini-1", labels: ["big", "eu"] });
    assert.deepEqual(await refused(s, CREATE_CUSTOMER, { input: { name: "Initech" } }), [{ field: "name", messages: ["Customer with this name already exists."] }]);
    assert.equal((await refused(s, CREATE_CUSTOMER, { input: { name: "   " } }))[0].field, "name");
    assert.equal((await refused(s, CREATE_CUSTOMER, { input: { name: "Other", externalId: "ini-1" } }))[0].field, "externalId");
    assert.equal((await refused(s, CREATE_CUSTOMER, { input: { name: "Other", concurrentExecutionLimit: 3 } }))[0].field, "concurrentExecutionLimit");
    const { json } = await s.api(CREATE_CUSTOMER, { input: { description: "no name" } });
    assert.match(json.errors[0].message, /name/, "a missing required input field fails validation");

    const UPDATE = `mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { customer { name description externalId } errors { field messages } } }`;
    const updated = await mutate(s, UPDATE, { input: { id: customerId, name: "Initech Corp", externalId: null } });
    assert.deepEqual(updated.customer, { name: "Initech Corp", description: "TPS", externalId: null });
    assert.equal((await refused(s, UPDATE, { input: { id: "nope", name: "x" } }))[0].field, "id");
    const system = s.runtime.instances.customers.find((c) => c.isSystem)!;
    assert.match((await refused(s, UPDATE, { input: { id: system.id, name: "x" } }))[0].messages[0], /system customer/);
    const { customers } = await s.data(`{ customers(isSystem: false, name_Icontains: "initech") { totalCount nodes { name } } }`);
    assert.deepEqual(customers, { totalCount: 1, nodes: [{ name: "Initech Corp" }] });
  });

  const CREATE_INSTANCE = `mutation($input: CreateInstanceInput!) { createInstance(input: $input) { instance { id name enabled needsDeploy configState configVariables { nodes { value requiredConfigVariable { key dataType } } } } errors { field messages } } }`;

  it("createInstance, updateInstanceConfigVariables, deployInstance: deploy flows run, hooks log, schedules follow", async () => {
    const input = { customer: customerId, integration: integrationId, name: "Initech Prod", configVariables: [{ key: "Tick Schedule", value: "0 9 * * 1" }] };
    const created = await mutate(s, CREATE_INSTANCE, { input });
    instanceId = created.instance.id;
    assert.equal(created.instance.needsDeploy, true);
    assert.deepEqual(
      created.instance.configVariables.nodes.map((v: any) => [v.requiredConfigVariable.key, v.requiredConfigVariable.dataType, v.value]),
      [
        ["Tick Schedule", "SCHEDULE", "0 9 * * 1"],
        ["Fail Deploy", "STRING", "false"],
      ],
    );
    assert.equal((await refused(s, CREATE_INSTANCE, { input: { ...input, integration: "nope" } }))[0].field, "integration");
    assert.equal((await refused(s, CREATE_INSTANCE, { input: { ...input, customer: "nope" } }))[0].field, "customer");
    assert.match((await refused(s, CREATE_INSTANCE, { input: { ...input, configVariables: [{ key: "Nope", value: "1" }] } }))[0].messages[0], /no config variable "Nope"/);
    assert.match((await refused(s, CREATE_INSTANCE, { input: { ...input, configVariables: [{ key: "__proto__", value: "1" }] } }))[0].messages[0], /no config variable "__proto__"/);
    assert.match((await refused(s, CREATE_INSTANCE, { input: { ...input, configVariables: [{ key: "Fail Deploy" }] } }))[0].messages[0], /needs a value/);

    const DEPLOY = `mutation($id: ID) { deployInstance(input: {id: $id}) { instance { id deployedVersion lastDeployedAt needsDeploy } errors { field messages } } }`;
    const deployed = await mutate(s, DEPLOY, { id: instanceId });
    assert.equal(deployed.instance.deployedVersion, 1);
    assert.equal(deployed.instance.needsDeploy, false);
    assert.equal((await refused(s, DEPLOY, { id: "nope" }))[0].field, "id");

    const deployRuns = [...s.runtime.store.executions.values()].filter((x) => x.scope.instanceId === instanceId && x.invokeType === "DEPLOY_FLOW");
    assert.equal(deployRuns.length, 1);
    await s.waitForEnd(deployRuns[0].id);

    const { logs } = await s.data(`query($i: ID) { logs(instance: $i, logType: "MANAGEMENT", orderBy: {field: TIMESTAMP, direction: ASC}) { nodes { message logType flowName instanceName executionResultId } } }`, { i: instanceId });
    assert.deepEqual(logs.nodes.map((l: any) => [l.message, l.flowName, l.instanceName, l.executionResultId]), [["deploy hook ran for Initech Prod", "Hooked", "Initech Prod", null]]);

    const { integration } = await s.data(`query($id: ID!, $i: ID) { integration(id: $id) { flows { nodes { name triggerKind schedule(instance: $i) { cron timeZone configVariable nextRunsAt(count: 2) } } } } }`, { id: integrationId, i: instanceId });
    const tick = integration.flows.nodes.find((f: any) => f.name === "Configured Tick");
    assert.equal(tick.triggerKind, "SCHEDULE");
    assert.deepEqual([tick.schedule.cron, tick.schedule.timeZone, tick.schedule.configVariable], ["0 9 * * 1", "Europe/Paris", "Tick Schedule"]);
    assert.equal(tick.schedule.nextRunsAt.length, 2);
    assert.equal(new Date(tick.schedule.nextRunsAt[0]).getUTCDay(), 1);
    assert.equal(integration.flows.nodes.find((f: any) => f.name === "On Deploy").triggerKind, "INSTANCE_DEPLOY");
    // The same schedule through the instance's flow configs (the Instances view's one query), null for unscheduled flows.
    const { instance } = await s.data(`query($i: ID!) { instance(id: $i) { flowConfigs { nodes { flow { name } schedule { cron timeZone configVariable } } } } }`, { i: instanceId });
    const schedules = Object.fromEntries(instance.flowConfigs.nodes.map((fc: any) => [fc.flow.name, fc.schedule]));
    assert.deepEqual(schedules["Configured Tick"], { cron: "0 9 * * 1", timeZone: "Europe/Paris", configVariable: "Tick Schedule" });
    assert.equal(schedules["On Deploy"], null);

    const CONFIGURE = `mutation($input: UpdateInstanceConfigVariablesInput!) { updateInstanceConfigVariables(input: $input) { instance { needsDeploy } errors { field messages } } }`;
    assert.equal((await mutate(s, CONFIGURE, { input: { id: instanceId, configVariables: [{ key: "Fail Deploy", value: "true" }] } })).instance.needsDeploy, true);
    assert.match((await refused(s, CONFIGURE, { input: { id: instanceId, configVariables: [{ key: "Tick Schedule", value: "not cron" }] } }))[0].messages[0], /invalid cron expression/);
    // A schedule's time zone is its code's: echoed back it is taken, another one refused (it was dropped without a word).
    await mutate(s, CONFIGURE, { input: { id: instanceId, configVariables: [{ key: "Tick Schedule", value: "0 9 * * 1", timeZone: "Europe/Paris" }] } });
    const tz = await refused(s, CONFIGURE, { input: { id: instanceId, configVariables: [{ key: "Tick Schedule", value: "0 9 * * 1", timeZone: "Asia/Tokyo" }] } });
    assert.match(tz[0].messages[0], /"Tick Schedule": its time zone is the one its code declares \(Europe\/Paris\), not "Asia\/Tokyo"/);
    assert.match((await refused(s, DEPLOY, { id: instanceId }))[0].messages[0], /deploy hook refused: Fail Deploy is true/);
    await mutate(s, CONFIGURE, { input: { id: instanceId, configVariables: [{ key: "Fail Deploy", value: "false" }] } });
    await mutate(s, DEPLOY, { id: instanceId });
  });

  const UPDATE_INSTANCE = `mutation($input: UpdateInstanceInput!) { updateInstance(input: $input) { instance { id name description labels enabled } errors { field messages } } }`;
  const TEST_FLOW_CONFIG = `mutation($id: ID, $payload: String) { testInstanceFlowConfig(input: {id: $id, payload: $payload, contentType: "application/json"}) { testInstanceFlowConfigResult { execution { id invokeType } flowConfig { id } } errors { field messages } } }`;

  it("updateInstance (rename, disable, enable) and testInstanceFlowConfig", async () => {
    const renamed = await mutate(s, UPDATE_INSTANCE, { input: { id: instanceId, name: "Initech Production", description: "the real one", labels: ["prod"] } });
    assert.deepEqual(renamed.instance, { id: instanceId, name: "Initech Production", description: "the real one", labels: ["prod"], enabled: true });
    const updatedAt = () => s.runtime.instances.instance(instanceId)!.updatedAt ?? "";
    const before = updatedAt();
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await mutate(s, UPDATE_INSTANCE, { input: { id: instanceId, enabled: false } })).instance.enabled, false);
    assert.ok(updatedAt() > before, "disabling is an update");
    const hooked = s.runtime.instances.flowConfigOf(instanceId, flowId("Hooked"))!;
    assert.match((await refused(s, TEST_FLOW_CONFIG, { id: hooked.id, payload: "{}" }))[0].messages[0], /disabled/);
    const { instances } = await s.data(`{ instances(enabled: false, isSystem: false) { nodes { name } } }`);
    assert.deepEqual(instances.nodes, [{ name: "Initech Production" }]);
    await mutate(s, UPDATE_INSTANCE, { input: { id: instanceId, enabled: true } });
    assert.equal((await refused(s, UPDATE_INSTANCE, { input: { id: instanceId, globalDebug: true } }))[0].field, "globalDebug");
    assert.equal((await refused(s, UPDATE_INSTANCE, { input: { id: instanceId, name: "" } }))[0].field, "name");
    assert.match((await refused(s, UPDATE_INSTANCE, { input: { id: instanceId, name: "n".repeat(300) } }))[0].messages[0], /300 characters long; at most 255/);
    const twice = [{ key: "Fail Deploy", value: "true" }, { key: "Fail Deploy", value: "false" }];
    assert.match((await refused(s, UPDATE_INSTANCE, { input: { id: instanceId, configVariables: twice } }))[0].messages[0], /"Fail Deploy" is given twice/);
    // Refused as a whole: nothing of it is applied (the name and labels used to be).
    assert.ok((await refused(s, UPDATE_INSTANCE, { input: { id: instanceId, name: "Half", labels: ["half"], enabled: false, configVariables: [{ key: "No Such Var", value: "x" }] } })).length);
    assert.equal((await refused(s, UPDATE_INSTANCE, { input: { id: instanceId, name: "", configVariables: [{ key: "Fail Deploy", value: "true" }] } }))[0].field, "name");
    const after = await s.data(`query($id: ID!) { instance(id: $id) { name labels enabled configVariables { nodes { value requiredConfigVariable { key } } } } }`, { id: instanceId });
    assert.equal(after.instance.name, "Initech Production");
    assert.deepEqual(after.instance.labels, ["prod"]);
    assert.equal(after.instance.enabled, true);
    assert.equal(after.instance.configVariables.nodes.find((v: any) => v.requiredConfigVariable.key === "Fail Deploy").value, "false");

    const tested = await mutate(s, TEST_FLOW_CONFIG, { id: hooked.id, payload: '{"via": "api"}' });
    const x = await s.waitForEnd(tested.testInstanceFlowConfigResult.execution.id);
    assert.equal(x.invokeType, "WEBHOOK");
    assert.equal(x.status, "SUCCESS");
    assert.equal((await refused(s, TEST_FLOW_CONFIG, { id: "nope" }))[0].field, "id");
    const { json } = await s.api(`mutation { testInstanceFlowConfig(input: {id: "x", headers: "{not json"}) { errors { field } } }`);
    assert.deepEqual(json.data.testInstanceFlowConfig.errors, [{ field: "id" }]);
  });

  it("testIntegrationFlow runs on the system instance; cross-flow calls link both ways (lineage, invokedExecutions)", async () => {
    const TEST_FLOW = `mutation($id: ID, $payload: String, $headers: String) { testIntegrationFlow(input: {id: $id, payload: $payload, contentType: "application/json", headers: $headers}) { testIntegrationFlowResult { execution { id invokeType } flow { name } } errors { field messages } } }`;
    assert.equal((await refused(s, TEST_FLOW, { id: flowId("Caller"), payload: "{}", headers: "[1]" }))[0].field, "headers");
    assert.equal((await refused(s, TEST_FLOW, { id: "nope", payload: "{}" }))[0].field, "id");
    const tested = await mutate(s, TEST_FLOW, { id: flowId("Caller"), payload: '{"n": 5}', headers: '{"x-test": "1"}' });
    assert.equal(tested.testIntegrationFlowResult.flow.name, "Caller");
    assert.equal(tested.testIntegrationFlowResult.execution.invokeType, "INTEGRATION_FLOW_TEST");
    const caller = await s.waitForEnd(tested.testIntegrationFlowResult.execution.id);
    assert.equal(caller.status, "SUCCESS");
    const { executionResult } = await s.data(
      `query($id: ID!) { executionResult(id: $id) { lineage { hasChildren } invokedExecutions { totalCount nodes { id invokeType flow { name } lineage { invokedBy { execution { id } } } } } } }`,
      { id: caller.id },
    );
    assert.equal(executionResult.lineage.hasChildren, true);
    assert.equal(executionResult.invokedExecutions.totalCount, 1);
    const [callee] = executionResult.invokedExecutions.nodes;
    assert.equal(callee.invokeType, "CROSS_FLOW");
    assert.equal(callee.flow.name, "Callee");
    assert.equal(callee.lineage.invokedBy.execution.id, caller.id);
  });

  it("deleteInstance runs its teardown and returns it; deleteCustomer removes what is left; executions stay", async () => {
    const DELETE_INSTANCE = `mutation($id: ID) { deleteInstance(input: {id: $id}) { instance { id name } errors { field messages } } }`;
    const DELETE_CUSTOMER = `mutation($id: ID) { deleteCustomer(input: {id: $id}) { customer { id name } errors { field messages } } }`;
    const system = s.runtime.instances.systemInstance(integrationId)!;
    assert.match((await refused(s, DELETE_INSTANCE, { id: system.id }))[0].messages[0], /system instance/);
    const deleted = await mutate(s, DELETE_INSTANCE, { id: instanceId });
    assert.deepEqual(deleted.instance, { id: instanceId, name: "Initech Production" });
    assert.equal((await s.data(`query($id: ID!) { instance(id: $id) { id } }`, { id: instanceId })).instance, null);
    const { executionResults } = await s.data(`query($i: ID) { executionResults(instance: $i) { nodes { invokeType instance { id } } } }`, { i: instanceId });
    assert.ok(executionResults.nodes.some((n: any) => n.invokeType === "TEAR_DOWN_FLOW"));
    assert.ok(executionResults.nodes.every((n: any) => n.instance === null), "the instance is gone, its executions stay");
    assert.equal((await refused(s, DELETE_INSTANCE, { id: instanceId }))[0].field, "id");

    const second = await mutate(s, CREATE_INSTANCE, { input: { customer: customerId, integration: integrationId, name: "Initech Staging" } });
    const gone = await mutate(s, DELETE_CUSTOMER, { id: customerId });
    assert.equal(gone.customer.name, "Initech Corp");
    assert.equal(s.runtime.instances.instance(second.instance.id), undefined);
    assert.equal((await refused(s, DELETE_CUSTOMER, { id: customerId }))[0].field, "id");
    const systemCustomer = s.runtime.instances.customers.find((c) => c.isSystem)!;
    assert.match((await refused(s, DELETE_CUSTOMER, { id: systemCustomer.id }))[0].messages[0], /system customer/);
  });
});

describe("API mutations: replay, bulk replay, cancel, retries (queues fixture)", function () {
  let s: TestServer;
  before(async () => {
    s = await startServer(copyFixture("queues"));
  });
  after(() => s.stop());

  it("retries link to the first attempt (retries, retryForExecution, retryCount)", async () => {
    const first = (await postJson(s.flows["Retried"], { requestId: "api-1" })).json.executionId;
    await waitFor(() => s.runtime.store.linkedTo(first).filter((x) => x.links?.retryOf === first && x.endedAt !== null).length === 2 || undefined);
    const { executionResult } = await s.data(`query($id: ID!) { executionResult(id: $id) { retryCount retries { nodes { id retryCount retryForExecution { id } status } } } }`, { id: first });
    assert.equal(executionResult.retryCount, 0);
    assert.deepEqual(
      executionResult.retries.nodes.map((r: any) => [r.retryCount, r.retryForExecution.id, r.status]),
      [
        [1, first, "ERROR"],
        [2, first, "ERROR"],
      ],
    );
  });

  it("replayExecution and replayExecutions start new executions linked to the original; errors for bad ids", async () => {
    const REPLAY = `mutation($id: ID) { replayExecution(input: {id: $id}) { instanceExecutionResult { id replayForExecution { id } } errors { field messages } } }`;
    const original = (await postJson(s.flows["Throttled"], {})).json.executionId;
    assert.match((await refused(s, REPLAY, { id: original }))[0].messages[0], /still (queued|running)/);
    await s.waitForEnd(original);
    const replay = (await mutate(s, REPLAY, { id: original })).instanceExecutionResult;
    assert.equal(replay.replayForExecution.id, original);
    await s.waitForEnd(replay.id);
    const { executionResult } = await s.data(`query($id: ID!) { executionResult(id: $id) { replays { nodes { id } } } }`, { id: original });
    assert.deepEqual(executionResult.replays.nodes, [{ id: replay.id }]);
    assert.match((await refused(s, REPLAY, { id: "nope" }))[0].messages[0], /not stored/);
    // The replay-failed-executions example selects no errors: a failed replay is a null result.
    assert.deepEqual((await s.data(`mutation { replayExecution(input: {id: "nope"}) { instanceExecutionResult { id } } }`)).replayExecution, { instanceExecutionResult: null });

    const throttled = s.runtime.store.executions.get(original)!.scope.flowId;
    const bulk = await mutate(s, `mutation($flow: ID) { replayExecutions(input: {flow: $flow, replayForExecution_Isnull: true, skipSucceededReplays: false}) { count instanceExecutionResults(first: 5) { totalCount nodes { id replayForExecution { id } } } errors { field messages } } }`, { flow: throttled });
    assert.equal(bulk.count, 1);
    assert.equal(bulk.instanceExecutionResults.nodes[0].replayForExecution.id, original);
    const skipped = await mutate(s, `mutation($flow: ID) { replayExecutions(input: {flow: $flow, replayForExecution_Isnull: true}) { count errors { field messages } } }`, { flow: throttled });
    assert.equal(skipped.count, 0, "the original already has a successful replay");
    // A filter that could only match nothing (a typo) says so, rather than "0 replayed".
    const BULK = `mutation($input: ReplayExecutionsInput!) { replayExecutions(input: $input) { count errors { field messages } } }`;
    for (const [input, field, message] of [
      [{ flow: "nope" }, "flow", /^No flow with id nope$/],
      [{ instance: "nope" }, "instance", /^No instance with id nope$/],
      [{ instance_Customer: "nope" }, "instance_Customer", /^No customer with id nope$/],
      [{ flow: throttled, invokeType_In: ["WEBHOOK", "BOGUS"] }, "invokeType_In", /^"BOGUS" is not one of .*INTEGRATION_FLOW_TEST/],
      [{ resultType_In: ["DONE"] }, "resultType_In", /^"DONE" is not one of .*COMPLETED/],
    ] as const) {
      const { replayExecutions } = await s.data(BULK, { input });
      assert.equal(replayExecutions.count, 0);
      assert.equal(replayExecutions.errors[0].field, field);
      assert.match(replayExecutions.errors[0].messages[0], message);
    }
  });

  it("cancelExecution cancels a running execution once; concurrencyLimit reflects queueConfig", async () => {
    const CANCEL = `mutation($id: ID!) { cancelExecution(input: {id: $id}) { instanceExecutionResult { id status resultType endedAt error } errors { field messages } } }`;
    const slow = (await postJson(s.flows["Slow"], { sleep: 5000 })).json.executionId;
    await waitFor(() => s.runtime.store.executions.get(slow)?.status === "PENDING" || undefined);
    const canceled = (await mutate(s, CANCEL, { id: slow })).instanceExecutionResult;
    assert.equal(canceled.status, "CANCELED");
    assert.equal(canceled.resultType, "CANCELED_BY_USER");
    assert.ok(canceled.endedAt);
    assert.equal(canceled.error, null);
    assert.match((await refused(s, CANCEL, { id: slow }))[0].messages[0], /already ended/);
    const { integration } = await s.data(`query($id: ID!) { integration(id: $id) { flows { nodes { name usesFifoQueue concurrencyLimit } } } }`, { id: s.runtime.integration!.meta.id });
    const byName = Object.fromEntries(integration.flows.nodes.map((f: any) => [f.name, [f.usesFifoQueue, f.concurrencyLimit]]));
    assert.deepEqual([byName["Fifo"], byName["Throttled"], byName["Slow"]], [[true, 1], [false, 2], [false, null]]);
  });
});
