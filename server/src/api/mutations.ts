// Mutations. Problems with the input come back in the payload's `errors { field messages }` (field
// `__all__` when no one field is at fault), with HTTP 200 and `errors: []` on success, as
// Prismatic's clients expect (prismatic-api/clients.md §2).

import type { GraphQLEnumType, GraphQLResolveInfo } from "graphql";
import type { InvokeType } from "../../../protocol/executions";
import { ExecutionActionError, ReplayFilter, TriggerRefused } from "../runtime/invocation";
import { InstanceError } from "../runtime/instances";
import type { TriggerRequest } from "../runtime/messages";
import type { Instance } from "../store/metadata";
import { connection } from "./connection";
import { ApiContext, ApiResolvers, properties, time } from "./context";

type ErrorType = { field: string; messages: string[] };

/** An input problem, reported in the payload. */
class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Runs a mutation: its result goes in the payload under `key`, its input problems in `errors`.
 * Anything else is a bug and becomes a GraphQL error.
 */
async function payload(input: { clientMutationId?: string | null }, key: string, work: () => unknown): Promise<Record<string, unknown>> {
  const base = { clientMutationId: input.clientMutationId ?? null };
  try {
    return { ...base, [key]: await work(), errors: [] as ErrorType[] };
  } catch (err) {
    if (err instanceof InputError || err instanceof InstanceError) return { ...base, [key]: null, errors: [{ field: err.field, messages: [err.message] }] };
    if (err instanceof ExecutionActionError || err instanceof TriggerRefused) return { ...base, [key]: null, errors: [{ field: "__all__", messages: [err.message] }] };
    throw err;
  }
}

/** Input fields that have no local meaning and would change what happens: refused, not ignored. */
function refuseUnsupported(input: Record<string, unknown>, fields: string[]): void {
  for (const field of fields) {
    if (input[field] !== null && input[field] !== undefined) throw new InputError(field, `${field} is not supported by Refract (it has no meaning for a local code-native integration)`);
  }
}

function required(value: string | null | undefined, field: string): string {
  if (!value) throw new InputError(field, `${field} is required`);
  return value;
}

/**
 * `configVariables: [{key, value | values}]` as the string values instances store. A schedule
 * variable runs in the time zone its code declares: a `timeZone` is taken when it is that one (a
 * client echoing what it read), refused otherwise rather than dropped.
 */
function configValues(ctx: ApiContext, list: Array<{ key: string; value?: string | null; values?: string | null; timeZone?: string | null } | null> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of list ?? []) {
    if (!v) continue;
    refuseUnsupported(v, ["customerConfigVariableId", "onPremiseResourceId"]);
    if (v.timeZone) {
      const declared = ctx.runtime.integration?.definition.configVars.find((d) => d.key === v.key)?.timeZone ?? null;
      if (v.timeZone !== declared) throw new InputError("configVariables", `Config variable "${v.key}": its time zone is the one its code declares (${declared ?? "none: UTC"}), not ${JSON.stringify(v.timeZone)}`);
    }
    const value = v.value ?? v.values;
    if (value === null || value === undefined) throw new InputError("configVariables", `Config variable "${v.key}" needs a value or values`);
    if (Object.hasOwn(out, v.key)) throw new InputError("configVariables", `Config variable "${v.key}" is given twice`);
    if (v.values != null) {
      try {
        JSON.parse(v.values);
      } catch {
        throw new InputError("configVariables", `The values of config variable "${v.key}" are not a JSON string`);
      }
    }
    // An own property even for "__proto__", so that the instance refuses it as it refuses any unknown key.
    Object.defineProperty(out, v.key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * What in a bulk replay's filter could only match nothing: an id this server does not have, an
 * invoke or result type Prismatic does not have. A typo is said, rather than answered "0 replayed".
 */
function replayFilterErrors(ctx: ApiContext, info: GraphQLResolveInfo, input: Record<string, any>): Array<{ field: string; messages: string[] }> {
  const errors: Array<{ field: string; messages: string[] }> = [];
  const unknownId = (field: string, what: string, known: boolean) => {
    if (input[field] && !known) errors.push({ field, messages: [`No ${what} with id ${input[field]}`] });
  };
  unknownId("flow", "flow", Object.values(ctx.runtime.integration?.meta.flowIds ?? {}).includes(input.flow));
  unknownId("instance", "instance", !!ctx.runtime.instances.instance(input.instance ?? ""));
  unknownId("instance_Customer", "customer", !!ctx.runtime.instances.customer(input.instance_Customer ?? ""));
  for (const [field, type] of [["invokeType_In", "InstanceExecutionResultInvokeType"], ["resultType_In", "InstanceExecutionResultResultType"]]) {
    const names = (info.schema.getType(type) as GraphQLEnumType).getValues().map((v) => v.name);
    const unknown = ((input[field] ?? []) as Array<string | null>).filter((v) => v !== null && !names.includes(v));
    if (unknown.length) errors.push({ field, messages: [`${unknown.map((v) => JSON.stringify(v)).join(", ")} is not one of ${names.join(", ")}`] });
  }
  return errors;
}

function instanceOf(ctx: ApiContext, id: string | null | undefined): Instance {
  const instance = ctx.runtime.instances.instance(required(id, "id"));
  if (!instance) throw new InputError("id", `No instance with id ${id}`);
  return instance;
}

/** The request a test mutation triggers its flow config with, as a webhook with that body would. */
function testRequest(ctx: ApiContext, flowConfigId: string, input: { payload?: string | null; contentType?: string | null; headers?: string | null }): TriggerRequest {
  let headers: Record<string, string> = {};
  if (input.headers) {
    try {
      headers = JSON.parse(input.headers);
    } catch {
      throw new InputError("headers", "headers must be a JSON object of header names to values");
    }
    if (!headers || typeof headers !== "object" || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== "string")) {
      throw new InputError("headers", "headers must be a JSON object of header names to string values");
    }
  }
  const contentType = input.contentType ?? (input.payload ? "application/json" : "");
  if (contentType) headers = { ...headers, "Content-Type": contentType };
  return { method: "POST", headers, queryParameters: {}, body: Buffer.from(input.payload ?? "", "utf8"), contentType, pathFragment: "", invokeUrl: ctx.runtime.webhookUrl(flowConfigId) };
}

async function test(ctx: ApiContext, flowConfigId: string, input: { payload?: string | null; contentType?: string | null; headers?: string | null }) {
  const fc = ctx.runtime.instances.flowConfig(flowConfigId)!;
  const instance = ctx.runtime.instances.instance(fc.instanceId)!;
  if (!instance.enabled) throw new InputError("id", `Instance "${instance.name}" is disabled`);
  if (!instance.deployed) throw new InputError("id", `Instance "${instance.name}" is not deployed`);
  const invokeType: InvokeType = instance.isSystem ? "INTEGRATION_FLOW_TEST" : "WEBHOOK";
  const started = await ctx.runtime.invoke(fc.id, testRequest(ctx, fc.id, input), invokeType);
  return ctx.runtime.store.executions.get(started.id);
}

export const mutationResolvers: ApiResolvers = {
  RootMutation: {
    createCustomer: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "customer", () => {
        refuseUnsupported(input, ["allowEmbeddedDesigner", "allowWorkflowCopilot", "concurrentExecutionLimit"]);
        return ctx.runtime.instances.createCustomer(input);
      }),
    updateCustomer: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "customer", () => {
        refuseUnsupported(input, ["addAttachment", "removeAttachment", "renameAttachment", "avatarUrl", "allowEmbeddedDesigner", "allowWorkflowCopilot", "concurrentExecutionLimit", "starred"]);
        const { id, clientMutationId: _, ...fields } = input;
        if (!ctx.runtime.instances.customer(required(id, "id"))) throw new InputError("id", `No customer with id ${id}`);
        return ctx.runtime.instances.updateCustomer(id, fields);
      }),
    deleteCustomer: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "customer", () => {
        if (!ctx.runtime.instances.customer(required(input.id, "id"))) throw new InputError("id", `No customer with id ${input.id}`);
        return ctx.runtime.lifecycle.removeCustomer(input.id);
      }),
    createInstance: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "instance", () => {
        refuseUnsupported(input, ["flowConfigs", "configMode", "logsDisabled", "stepResultsDisabled"]);
        if (!ctx.runtime.instances.customer(input.customer)) throw new InputError("customer", `No customer with id ${input.customer}`);
        if (ctx.runtime.integration?.meta.id !== input.integration) throw new InputError("integration", `No integration with id ${input.integration} (this server runs ${ctx.runtime.integration?.meta.id ?? "no build yet"})`);
        return ctx.runtime.lifecycle.createInstance({
          integrationId: input.integration,
          customerId: input.customer,
          name: input.name,
          description: input.description ?? undefined,
          labels: input.labels ?? undefined,
          configValues: configValues(ctx, input.configVariables),
        });
      }),
    updateInstance: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "instance", () => {
        refuseUnsupported(input, ["flowConfigs", "configMode", "globalDebug", "logsDisabled", "stepResultsDisabled", "starred"]);
        let instance = instanceOf(ctx, input.id);
        if (input.integration != null && input.integration !== instance.integrationId) throw new InputError("integration", "An instance cannot move to another integration here: a workspace has one");
        // All or nothing: the new name and labels are checked, then the config values checked and
        // set, then the rest, which nothing refuses.
        const update =
          input.name != null || input.description != null || input.labels != null
            ? ctx.runtime.instances.updateInstance(instance.id, { name: input.name ?? undefined, description: input.description ?? undefined, labels: input.labels ?? undefined })
            : null;
        if (input.configVariables) instance = ctx.runtime.lifecycle.configure(instance.id, configValues(ctx, input.configVariables));
        if (update) instance = update();
        if (input.enabled != null) instance = ctx.runtime.lifecycle.setEnabled(instance.id, input.enabled);
        return instance;
      }),
    updateInstanceConfigVariables: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "instance", () => {
        refuseUnsupported(input, ["configMode"]);
        return ctx.runtime.lifecycle.configure(instanceOf(ctx, input.id).id, configValues(ctx, input.configVariables));
      }),
    deployInstance: (_: unknown, { input }: any, ctx: ApiContext) => payload(input, "instance", () => ctx.runtime.lifecycle.deploy(instanceOf(ctx, input.id).id)),
    deleteInstance: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "instance", async () => {
        const instance = instanceOf(ctx, input.id);
        await ctx.runtime.lifecycle.remove(instance.id);
        return instance; // the deleted instance, as clients print its name (clients.md §6)
      }),
    replayExecution: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "instanceExecutionResult", async () => ctx.runtime.store.executions.get((await ctx.runtime.replay(required(input.id, "id"))).id)),
    replayExecutions: async (_: unknown, { input }: any, ctx: ApiContext, info: GraphQLResolveInfo) => {
      const errors = replayFilterErrors(ctx, info, input);
      if (errors.length) return { clientMutationId: input.clientMutationId ?? null, count: 0, started: [], errors };
      const filter: ReplayFilter = {
        instance: input.instance ?? undefined,
        customer: input.instance_Customer ?? undefined,
        flow: input.flow ?? undefined,
        invokeTypes: input.invokeType_In ?? undefined,
        resultTypes: input.resultType_In ?? undefined,
        errorIsNull: input.error_Isnull ?? undefined,
        replayForExecutionIsNull: input.replayForExecution_Isnull ?? undefined,
        startedAtGte: time(input.startedAt_Gte, "startedAt_Gte"),
        startedAtLte: time(input.startedAt_Lte, "startedAt_Lte"),
        skipSucceededReplays: input.skipSucceededReplays ?? true,
      };
      const started = await ctx.runtime.replayMany(filter);
      return { clientMutationId: input.clientMutationId ?? null, count: started.length, started, errors: [] };
    },
    cancelExecution: (_: unknown, { input }: any, ctx: ApiContext) => payload(input, "instanceExecutionResult", () => ctx.runtime.cancel(required(input.id, "id"), input.force ?? false)),
    testIntegrationFlow: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "testIntegrationFlowResult", async () => {
        refuseUnsupported(input, ["result"]);
        if (input.asynchronous === false) throw new InputError("asynchronous", "Tests run asynchronously here; call the flow's testUrl with prismatic-synchronous: true to wait for its result");
        const flowId = required(input.id, "id");
        const current = ctx.runtime.integration;
        const system = current && ctx.runtime.instances.systemInstance(current.meta.id);
        const fc = system && ctx.runtime.instances.flowConfigOf(system.id, flowId);
        if (!fc) throw new InputError("id", `No flow with id ${flowId} on the integration's system instance`);
        return { execution: await test(ctx, fc.id, input), flowId };
      }),
    testInstanceFlowConfig: (_: unknown, { input }: any, ctx: ApiContext) =>
      payload(input, "testInstanceFlowConfigResult", async () => {
        const fc = ctx.runtime.instances.flowConfig(required(input.id, "id"));
        if (!fc) throw new InputError("id", `No flow config with id ${input.id}`);
        return { execution: await test(ctx, fc.id, input), flowConfig: fc };
      }),
  },
  ErrorType: properties("field", "messages"),
  CreateCustomerPayload: properties("customer", "errors", "clientMutationId"),
  UpdateCustomerPayload: properties("customer", "errors", "clientMutationId"),
  DeleteCustomerPayload: properties("customer", "errors", "clientMutationId"),
  CreateInstancePayload: properties("instance", "errors", "clientMutationId"),
  UpdateInstancePayload: properties("instance", "errors", "clientMutationId"),
  UpdateInstanceConfigVariablesPayload: properties("instance", "errors", "clientMutationId"),
  DeployInstancePayload: properties("instance", "errors", "clientMutationId"),
  DeleteInstancePayload: properties("instance", "errors", "clientMutationId"),
  ReplayExecutionPayload: properties("instanceExecutionResult", "errors", "clientMutationId"),
  CancelExecutionPayload: properties("instanceExecutionResult", "errors", "clientMutationId"),
  ReplayExecutionsPayload: {
    ...properties("count", "errors", "clientMutationId"),
    instanceExecutionResults: (p: any, args: any) => connection(p.started, args, { primary: (x: any) => x.startedAt, id: (x: any) => x.id, descending: false }, 100),
  },
  TestIntegrationFlowPayload: properties("testIntegrationFlowResult", "errors", "clientMutationId"),
  TestIntegrationFlowResult: {
    execution: (r: any) => r.execution,
    flow: (r: any, _: unknown, ctx: ApiContext) => {
      const def = ctx.runtime.flowById(r.flowId);
      return def ? { id: r.flowId, def } : null;
    },
  },
  TestInstanceFlowConfigPayload: properties("testInstanceFlowConfigResult", "errors", "clientMutationId"),
  TestInstanceFlowConfigResult: properties("execution", "flowConfig"),
};
