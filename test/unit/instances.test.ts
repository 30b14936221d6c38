import * as assert from "node:assert/strict";
import { idType } from "../../server/src/ids";
import { InstanceError, SYSTEM_CUSTOMER_NAME } from "../../server/src/runtime/instances";
import { TestServer, copyFixture, postJson, startServer } from "../helpers";

describe("customers, instances and flow configs", function () {
  let s: TestServer;
  before(async () => {
    s = await startServer(copyFixture("basic"));
  });
  after(() => s.stop());

  it("creates the system customer and the integration's system instance, deployed, on first load (INTERFACES.md §3)", () => {
    const meta = s.runtime.integration!.meta;
    const systemCustomers = s.runtime.instances.customers.filter((c) => c.isSystem);
    assert.equal(systemCustomers.length, 1);
    assert.equal(systemCustomers[0].name, SYSTEM_CUSTOMER_NAME);
    const system = s.runtime.instances.systemInstance(meta.id)!;
    assert.equal(system.name, "Fixture Basic (test)");
    assert.equal(system.customerId, systemCustomers[0].id);
    assert.equal(system.deployed, true);
    assert.equal(system.enabled, true);
    const flowConfigs = s.runtime.instances.flowConfigsOf(system.id);
    assert.equal(flowConfigs.length, s.runtime.integration!.definition.flows.length);
    for (const fc of flowConfigs) assert.equal(idType(fc.id), "InstanceFlowConfig");
  });

  it("creates, configures, deploys, disables and enables an instance for a customer", async () => {
    const { instances } = s.runtime;
    const meta = s.runtime.integration!.meta;
    const acme = instances.createCustomer({ name: "Acme", externalId: "acme-1" });
    assert.equal(idType(acme.id), "Customer");
    assert.equal(acme.isSystem, false);

    const instance = instances.createInstance({ integrationId: meta.id, customerId: acme.id, name: "Acme Orders", configValues: { "Api Base": "https://acme.test" } });
    assert.equal(idType(instance.id), "Instance");
    assert.equal(instance.deployed, false);
    assert.equal(instance.needsDeploy, true);
    assert.deepEqual(instances.flowConfigsOf(instance.id), [], "flow configs come with the deploy");

    instances.deploy(instance.id);
    const flowConfigs = instances.flowConfigsOf(instance.id);
    assert.equal(flowConfigs.length, s.runtime.integration!.definition.flows.length);
    assert.equal(instances.instance(instance.id)!.deployedVersion, meta.versionNumber);
    assert.equal(instances.instance(instance.id)!.needsDeploy, false);

    const echo = flowConfigs.find((fc) => fc.flowId === meta.flowIds["echo"])!;
    const url = s.runtime.webhookUrl(echo.id);
    const res = await postJson(url, { for: "acme" });
    const x = await s.waitForEnd(res.json.executionId);
    assert.equal(x.invokeType, "WEBHOOK");
    assert.equal(x.scope.isTestExecution, false);
    assert.equal(x.scope.customerId, acme.id);
    assert.equal(x.scope.instanceId, instance.id);
    const result = JSON.parse((await s.step(x, "onExecution")).data as string);
    assert.equal(result.configVars["Api Base"], "https://acme.test", "the instance's value");
    assert.equal(result.configVars["Verbose"], true, "a default from the integration");
    assert.deepEqual(result.customer, { id: acme.id, externalId: "acme-1", name: "Acme" });
    assert.deepEqual(result.instance, { id: instance.id, name: "Acme Orders" });
    assert.equal(result.webhookUrls["Echo"], url, "sibling webhook URLs are this instance's");

    instances.configure(instance.id, { "Api Base": "https://acme-2.test" });
    assert.equal(instances.instance(instance.id)!.needsDeploy, true);
    instances.deploy(instance.id);
    assert.deepEqual(
      instances.flowConfigsOf(instance.id).map((fc) => fc.id),
      flowConfigs.map((fc) => fc.id),
      "a redeploy keeps the flow configs and their webhook URLs",
    );
    const after = await postJson(url, {});
    const x2 = await s.waitForEnd(after.json.executionId);
    assert.equal(JSON.parse((await s.step(x2, "onExecution")).data as string).configVars["Api Base"], "https://acme-2.test");

    instances.setEnabled(instance.id, false);
    const disabled = await postJson(url, {});
    assert.equal(disabled.status, 409);
    assert.match(disabled.json.error, /Acme Orders.*disabled/);
    instances.setEnabled(instance.id, true);
    assert.equal((await postJson(url, {})).status, 200);
  });

  it("answers 409 for an instance that is not deployed", async () => {
    const { instances } = s.runtime;
    const meta = s.runtime.integration!.meta;
    const customer = instances.createCustomer({ name: "Undeployed Co" });
    const instance = instances.createInstance({ integrationId: meta.id, customerId: customer.id, name: "Draft" });
    instances.deploy(instance.id);
    const fc = instances.flowConfigsOf(instance.id)[0];
    s.runtime.metadata.change(() => {
      const i = instances.instance(instance.id)!;
      i.deployed = false;
      i.deployError = "onInstanceDeploy failed: no token";
    });
    const res = await postJson(s.runtime.webhookUrl(fc.id), {});
    assert.equal(res.status, 409);
    assert.match(res.json.error, /not deployed: onInstanceDeploy failed: no token/);
  });

  it("refuses bad input with a clear error and changes nothing", () => {
    const { instances } = s.runtime;
    const meta = s.runtime.integration!.meta;
    const before = JSON.stringify(s.runtime.metadata.data);
    assert.throws(() => instances.createCustomer({ name: "  " }), InstanceError);
    assert.throws(() => instances.createCustomer({ name: "Acme" }), /already exists/);
    assert.throws(() => instances.createCustomer({ name: "Other", externalId: "acme-1" }), /external id already exists/);
    assert.throws(() => instances.createInstance({ integrationId: "nope", customerId: "x", name: "n" }), /Unknown integration/);
    const acme = instances.customers.find((c) => c.name === "Acme")!;
    assert.throws(() => instances.createInstance({ integrationId: meta.id, customerId: "nope", name: "n" }), /Unknown customer/);
    assert.throws(() => instances.createInstance({ integrationId: meta.id, customerId: acme.id, name: "" }), /needs a name/);
    assert.throws(() => instances.createInstance({ integrationId: meta.id, customerId: acme.id, name: "n", configValues: { Nope: "1" } }), /no config variable "Nope"/);
    const instance = instances.all.find((i) => i.name === "Acme Orders")!;
    assert.throws(() => instances.configure(instance.id, { Verbose: true as unknown as string }), /must be a string/);
    assert.throws(() => instances.configure(instance.id, { Verbose: "notabool" }), /"Verbose" must be "true" or "false", not "notabool"/);
    assert.throws(() => instances.deploy("nope"), /Unknown instance/);
    // Oversized text: names, external ids and labels up to 255 characters, descriptions 10,000.
    const long = "x".repeat(256);
    assert.throws(() => instances.createCustomer({ name: long }), /name is 256 characters long; at most 255/);
    assert.throws(() => instances.createCustomer({ name: "Long", externalId: long }), /at most 255/);
    assert.throws(() => instances.createInstance({ integrationId: meta.id, customerId: acme.id, name: "n", labels: [long] }), /at most 255/);
    assert.throws(() => instances.createInstance({ integrationId: meta.id, customerId: acme.id, name: "n", description: "d".repeat(10_001) }), /at most 10000/);
    assert.throws(() => instances.updateInstance(instance.id, { name: long }), /at most 255/);
    // The system instance's name follows the integration's.
    const system = instances.systemInstance(meta.id)!;
    assert.throws(() => instances.updateInstance(system.id, { name: "Mine" }), /system instance: its name follows the integration's/);
    assert.equal(JSON.stringify(s.runtime.metadata.data), before);
    // What is fine stays fine: a blank value (none yet), its own name, the longest name allowed.
    instances.configure(instance.id, { Verbose: "" });
    instances.configure(instance.id, { Verbose: "false" });
    instances.updateInstance(system.id, { name: system.name, description: "the test instance" })();
    instances.updateInstance(instance.id, { name: "y".repeat(255) })();
  });
});
