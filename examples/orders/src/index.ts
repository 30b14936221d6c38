import { configPage, configVar, flow, integration } from "@prismatic-io/spectral";

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
  description: "Refract's example integration: webhook, synchronous and custom-response flows.",
  flows: [receiveOrder, quote, acknowledge],
  configPages: {
    Settings: configPage({
      elements: {
        Currency: configVar({ stableKey: "currency", dataType: "string", defaultValue: "EUR" }),
      },
    }),
  },
});
