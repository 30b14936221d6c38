// The data bench/api.ts measures on: 100,000 executions on 50 instances of the trivial bench
// fixture, with 10 log lines each (1,000,000 lines) spread over 7 days, written with the store's own
// API (the same files a running server writes).
import { encode } from "@msgpack/msgpack";
import { newId } from "../server/src/ids";
import { ExecutionScope } from "../server/src/store/executions";
import { serveFixture } from "./inProcess";

export const EXECUTIONS = 100_000;
export const INSTANCES = 50;
export const LINES_PER_EXECUTION = 10;
export const DAYS = 7;
/** The rare term is in one line of this many executions (about ten lines in all). */
export const RARE_EVERY = 10_007;


const MESSAGES: Array<[string, (i: number) => string]> = [
  ["INFO", () => "Starting Instance Execution..."],
  ["DEBUG", (i) => `Fetching customer record ${i % 9973} from the CRM`],
  ["INFO", (i) => `Received order ${i} with ${1 + (i % 7)} line items`],
  ["DEBUG", (i) => `Mapped ${1 + (i % 7)} line items to warehouse SKUs`],
  ["INFO", (i) => `Posting order ${i} to the warehouse API at https://wms.example.com/v2/orders`],
  ["WARN", (i) => `Warehouse API answered slowly (${200 + (i % 800)} ms); continuing`],
  ["INFO", (i) => `Order ${i} accepted by the warehouse as shipment ${i * 7}`],
  ["DEBUG", (i) => `Updated sync cursor to ${i}`],
  ["METRIC", (i) => `{"orders": 1, "lineItems": ${1 + (i % 7)}}`],
  ["INFO", (i) => `Ending Instance Execution (SUCCESS, ${20 + (i % 300)} ms)`],
];

/** Writes the benchmark's data into `dataDir` through a server of the trivial fixture, then stops it. */
export async function makeData(dataDir: string): Promise<void> {
  const served = await serveFixture("trivial", dataDir);
  const { runtime } = served;
  const integration = runtime.integration!;
  const scopes: ExecutionScope[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    const customer = runtime.instances.createCustomer({ name: `Customer ${i}` });
    const instance = runtime.instances.createInstance({ integrationId: integration.meta.id, customerId: customer.id, name: `Instance ${i}` });
    await runtime.lifecycle.deploy(instance.id);
    const fc = runtime.instances.flowConfigsOf(instance.id)[0];
    scopes.push({ flowConfigId: fc.id, flowId: fc.flowId, flowName: runtime.flowById(fc.flowId)!.name, instanceId: instance.id, customerId: customer.id, integrationId: integration.meta.id, isTestExecution: false });
  }
  const store = runtime.store;
  const stepResult = encode({ data: JSON.stringify({ order: { id: 1, lines: Array.from({ length: 20 }, (_, n) => ({ sku: `SKU-${n}`, qty: n, note: "x".repeat(40) })) } }), contentType: "application/json" });
  const from = Date.now() - DAYS * 86_400_000;
  const step = (DAYS * 86_400_000 - 60_000) / EXECUTIONS;
  for (let i = 0; i < EXECUTIONS; i++) {
    const id = newId("InstanceExecutionResult");
    const at = Math.floor(from + i * step);
    void store.accept(id, scopes[i % INSTANCES], "WEBHOOK", at, null);
    store.started(id, at + 2, integration.meta.versionNumber);
    store.stepResult(id, "onTrigger", stepResult, at + 2, at + 3, false);
    let lines = "";
    for (let n = 0; n < LINES_PER_EXECUTION; n++) {
      const [severity, message] = MESSAGES[n];
      const text = n === 5 && i % RARE_EVERY === 0 ? `Warehouse quarantined shipment ${i} for inspection` : message(i);
      lines += JSON.stringify({ at: at + 3 + n, severity, stepName: "onExecution", executionId: id, message: text }) + "\n";
    }
    store.appendLogs(id, lines);
    store.stepResult(id, "onExecution", stepResult, at + 3, at + 14, false);
    store.ended(id, "SUCCESS", "COMPLETED", null, at + 15);
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r)); // let the appenders write
  }
  await store.flushed();
  await served.stop();
}

