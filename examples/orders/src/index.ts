import { componentManifest, configPage, configVar, flow, integration } from "@prismatic-io/spectral";

// Prismatic's management triggers: flows on them run when an instance is deployed or removed.
const managementTriggers = componentManifest({
  key: "management-triggers",
  public: true,
  signature: null,
  actions: {},
  triggers: {
    instanceDeploy: { perform: async () => undefined, inputs: {} },
    instanceRemove: { perform: async () => undefined, inputs: {} },
  },
  dataSources: {},
  connections: {},
});

/** An order arrives by webhook; the flow validates it and answers asynchronously. */
const receiveOrder = flow({
  name: "Receive Order",
  stableKey: "receive-order",
  description: "Validates an incoming order and records its total.",
  onExecution: async (context, params) => {
    const order = params.onTrigger.results.body.data as { order?: number; items?: { price: number }[] };
    context.logger.info(`Received order ${order?.order ?? "(no number)"} for ${context.customer.name}`);
    if (typeof order !== "object" || order === null) {
      throw new Error("The order must be a JSON object");
    }
    const total = (order.items ?? []).reduce((sum, item) => sum + Number(item.price ?? 0), 0);
    context.logger.debug(`Currency from config: ${context.configVars["Currency"]}`);
    return { data: { order: order.order ?? null, total, currency: context.configVars["Currency"] } };
  },
});

/** A cross-flow call: asks the synchronous Quote flow, through its webhook URL, for a price. */
const checkout = flow({
  name: "Checkout",
  stableKey: "checkout",
  description: "Gets a quote from the Quote flow and confirms the order at that price.",
  onExecution: async (context, params) => {
    const items = (params.onTrigger.results.body.data as { items?: unknown[] })?.items ?? [];
    const quoted = await context.invokeFlow("Quote", { items });
    const orders = ((context.instanceState as { orders?: number }).orders ?? 0) + 1;
    context.logger.info(`Order ${orders} confirmed at ${JSON.stringify(quoted.data)}`);
    return { data: { confirmed: quoted.data }, instanceState: { orders } };
  },
});

/** A schedule from a config variable (a cron expression; empty means it does not run). */
const dailyReport = flow({
  name: "Daily Report",
  stableKey: "daily-report",
  description: "Reports how many orders were confirmed, on the Report Schedule.",
  schedule: { configVar: "Report Schedule" },
  onExecution: async (context) => {
    const confirmed = (context.crossFlowState as { confirmed?: number }).confirmed ?? 0;
    context.logger.info(`Report for ${context.customer.name}: ${confirmed} orders confirmed`);
    return { data: { confirmed } };
  },
});

/** Runs once when an instance is deployed, and once more when it is removed. */
const setUp = flow({
  name: "Set Up",
  stableKey: "set-up",
  description: "Prepares the customer's account when the instance is deployed.",
  onTrigger: { component: "managementTriggers", key: "instanceDeploy", values: {} },
  onExecution: async (context) => {
    context.logger.info(`Setting up ${context.customer.name}`);
    return { data: { ready: true } };
  },
});

const tearDown = flow({
  name: "Tear Down",
  stableKey: "tear-down",
  description: "Cleans up when the instance is removed.",
  onTrigger: { component: "managementTriggers", key: "instanceRemove", values: {} },
  onExecution: async (context) => {
    context.logger.info(`Cleaning up after ${context.customer.name}`);
    return { data: { removed: true } };
  },
});

/** A synchronous flow: the caller waits and gets the flow's result as the HTTP response. */
const quote = flow({
  name: "Quote",
  stableKey: "quote",
  description: "Answers with a price quote for the posted items.",
  isSynchronous: true,
  onExecution: async (context, params) => {
    const items = (params.onTrigger.results.body.data as { items?: { price: number }[] })?.items ?? [];
    const total = items.reduce((sum, item) => sum + Number(item.price ?? 0), 0);
    context.logger.info(`Quoted ${items.length} items`);
    return { data: { total, currency: context.configVars["Currency"] }, statusCode: 200 };
  },
});

/** A custom trigger that answers the caller itself (here: plain text) before the flow runs. */
const acknowledge = flow({
  name: "Acknowledge",
  stableKey: "acknowledge",
  description: "Answers the webhook caller with a plain-text receipt, then processes the payload.",
  onTrigger: async (context, payload) => {
    context.logger.info(`Acknowledging ${payload.headers["Content-Type"] ?? "a request"}`);
    return { payload, response: { statusCode: 202, contentType: "text/plain", body: "received" } };
  },
  onExecution: async (context, params) => {
    console.log("console.log output lands in the execution's logs too");
    return { data: `processed ${JSON.stringify(params.onTrigger.results.body.data)}`, contentType: "text/plain" };
  },
});

export default integration({
  name: "Orders",
  description: "Refract's example integration: one flow per way an execution starts.",
  componentRegistry: { managementTriggers },
  flows: [receiveOrder, quote, acknowledge, checkout, dailyReport, setUp, tearDown],
  configPages: {
    Settings: configPage({
      elements: {
        Currency: configVar({ stableKey: "currency", dataType: "string", defaultValue: "EUR" }),
        "Report Schedule": configVar({ stableKey: "report-schedule", dataType: "schedule", defaultValue: "0 18 * * *", timeZone: "Europe/Paris" }),
      },
    }),
  },
});
