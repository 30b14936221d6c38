// Who and what runs: the local user, customers, instances and their config variables and flow
// configs, the integration and its flows (INTERFACES.md §3 and §5 for the local truths).

import { globalId, localUser } from "../ids";
import { GraphQLError } from "graphql";
import { nextRuns } from "../runtime/scheduler";
import type { ConfigVarDefinition, FlowDefinition } from "../runtime/definition";
import type { CurrentIntegration } from "../runtime/instances";
import type { Customer, FlowConfig, Instance } from "../store/metadata";
import { PageArgs, connection } from "./connection";
import { ApiContext, ApiResolvers, iso, orderOf, properties } from "./context";
import { executionResults } from "./executions";
import { logConnection } from "./logs";

/** A flow of the current build, with its stable id. */
export interface FlowNode {
  id: string;
  def: FlowDefinition;
}

interface ConfigVariableNode {
  instance: Instance;
  def: ConfigVarDefinition;
}

const LOCAL = "Local";

export function currentIntegration(ctx: ApiContext, id?: string): CurrentIntegration | null {
  const current = ctx.runtime.integration;
  return current && (id === undefined || current.meta.id === id) ? current : null;
}

export function flowNode(ctx: ApiContext, flowId: string): FlowNode | null {
  const def = ctx.runtime.flowById(flowId);
  return def ? { id: flowId, def } : null;
}

function flowNodes(current: CurrentIntegration): FlowNode[] {
  return current.definition.flows.map((def) => ({ id: current.meta.flowIds[def.stableKey], def }));
}

/**
 * A flow config, while the integration has its flow. One of a flow removed from the code is kept
 * (the flow may come back, with its webhook URL) but not shown: its `flow` could not be answered.
 */
export function flowConfigOf(ctx: ApiContext, id: string | null | undefined): FlowConfig | null {
  const fc = id ? ctx.runtime.instances.flowConfig(id) : undefined;
  return fc && ctx.runtime.flowById(fc.flowId) ? fc : null;
}

const byName = <T extends { name: string; id: string }>() => ({ primary: (t: T) => t.name, id: (t: T) => t.id, descending: false });

// ---------------------------------------------------------------- customers and instances
interface InstanceArgs extends PageArgs {
  customer?: string | null;
  customer_ExternalId?: string | null;
  enabled?: boolean | null;
  integration?: string | null;
  isSystem?: boolean | null;
  name?: string | null;
  name_Icontains?: string | null;
  orderBy?: any;
  sortBy?: any;
}

function instances(ctx: ApiContext, args: InstanceArgs, customerId?: string) {
  const { instances: all } = ctx.runtime;
  const customerOf = (i: Instance) => all.customer(i.customerId);
  const items = all.all.filter(
    (i) =>
      (customerId === undefined || i.customerId === customerId) &&
      (args.customer == null || i.customerId === args.customer) &&
      (args.customer_ExternalId == null || customerOf(i)?.externalId === args.customer_ExternalId) &&
      (args.enabled == null || i.enabled === args.enabled) &&
      (args.integration == null || i.integrationId === args.integration) &&
      (args.isSystem == null || i.isSystem === args.isSystem) &&
      (args.name == null || i.name === args.name) &&
      (args.name_Icontains == null || i.name.toLowerCase().includes(args.name_Icontains.toLowerCase())),
  );
  const order = orderOf<Instance>(args, { field: "NAME", direction: "ASC" }, (field) => {
    switch (field) {
      case "NAME":
        return (i) => i.name;
      case "CREATED_AT":
        return (i) => i.createdAt;
      case "UPDATED_AT":
        return (i) => i.updatedAt ?? i.createdAt;
      case "CUSTOMER":
        return (i) => customerOf(i)?.name ?? "";
      case "DESCRIPTION":
        return (i) => i.description ?? "";
      case "ENABLED":
        return (i) => Number(i.enabled);
      case "INSTANCE_TYPE":
        return (i) => Number(i.isSystem);
      case "LAST_EXECUTED_AT":
        return (i) => ctx.runtime.store.lastStartedAt.get(i.id) ?? 0;
      case "VERSION":
        return (i) => i.deployedVersion ?? 0;
      case "INTEGRATION":
      case "CATEGORY":
        return () => ""; // one integration, without a category
      default:
        throw new GraphQLError(`Instances cannot be ordered by ${field}`);
    }
  });
  return connection(items, args, { ...order, id: (i) => i.id });
}

function configState(ctx: ApiContext, i: Instance): string {
  const current = currentIntegration(ctx, i.integrationId);
  const missing = current?.definition.configVars.some((v) => (i.configValues[v.key] ?? v.defaultValue ?? "") === "");
  return missing && !i.isSystem ? "NEEDS_INSTANCE_CONFIGURATION" : "FULLY_CONFIGURED";
}

// ---------------------------------------------------------------- flows
function schedule(ctx: ApiContext, flow: FlowNode, instanceId: string | null | undefined) {
  const current = ctx.runtime.integration;
  const instance = instanceId ? ctx.runtime.instances.instance(instanceId) : current && ctx.runtime.instances.systemInstance(current.meta.id);
  if (!instance) throw new GraphQLError(instanceId ? `No instance ${instanceId}` : "The integration has no system instance yet");
  const { schedule: s } = ctx.runtime.lifecycle.scheduleOf(instance, flow.def);
  if (!s) return null;
  const configVariable = flow.def.schedule?.type === "configVar" ? flow.def.schedule.configVar : null;
  return { cron: s.cron, timeZone: s.timeZone, configVariable, schedule: s };
}

export const directoryResolvers: ApiResolvers = {
  RootQuery: {
    authenticatedUser: () => ({}),
    listUserTenants: (_: unknown, __: unknown, ctx: ApiContext) => ({ nodes: [{ tenantId: LOCAL.toLowerCase(), url: ctx.origin, orgName: LOCAL, awsRegion: LOCAL.toLowerCase(), systemSuspended: false }] }),
    customer: (_: unknown, { id }: { id: string }, ctx: ApiContext) => ctx.runtime.instances.customer(id) ?? null,
    customers: (_: unknown, args: any, ctx: ApiContext) => {
      const items = ctx.runtime.instances.customers.filter(
        (c) =>
          (args.externalId == null || c.externalId === args.externalId) &&
          (args.externalId_Isnull == null || (c.externalId === null) === args.externalId_Isnull) &&
          (args.isSystem == null || c.isSystem === args.isSystem) &&
          (args.name == null || c.name === args.name) &&
          (args.name_Icontains == null || c.name.toLowerCase().includes(args.name_Icontains.toLowerCase())),
      );
      const order = orderOf<Customer>(args, { field: "NAME", direction: "ASC" }, (field) => {
        switch (field) {
          case "NAME":
            return (c) => c.name;
          case "CREATED_AT":
            return (c) => c.createdAt;
          case "UPDATED_AT":
            return (c) => c.updatedAt ?? c.createdAt;
          case "DESCRIPTION":
            return (c) => c.description;
          case "CONCURRENCY_REJECTIONS":
          case "CONCURRENT_EXECUTION_LIMIT":
            return () => 0; // no per-customer limits locally: all equal
          default:
            throw new GraphQLError(`Customers cannot be ordered by ${field}`);
        }
      });
      return connection(items, args, { ...order, id: (c) => c.id });
    },
    instance: (_: unknown, { id }: { id: string }, ctx: ApiContext) => ctx.runtime.instances.instance(id) ?? null,
    instances: (_: unknown, args: InstanceArgs, ctx: ApiContext) => instances(ctx, args),
    instanceFlowConfig: (_: unknown, { id }: { id: string }, ctx: ApiContext) => flowConfigOf(ctx, id),
    integration: (_: unknown, { id }: { id: string }, ctx: ApiContext) => currentIntegration(ctx, id),
    integrations: (_: unknown, args: any, ctx: ApiContext) => {
      // One integration per workspace, at its latest build (`allVersions` adds none: older builds are not kept).
      const current = ctx.runtime.integration;
      const items =
        current &&
        (args.name == null || current.meta.name === args.name) &&
        (args.name_Icontains == null || current.meta.name.toLowerCase().includes(args.name_Icontains.toLowerCase())) &&
        args.customer == null &&
        args.customer_Isnull !== false &&
        args.isCodeNative !== false &&
        args.versionIsAvailable !== false
          ? [current]
          : [];
      const order = orderOf<CurrentIntegration>(args, { field: "NAME", direction: "ASC" }, () => () => 0); // one item: any order
      return connection(items, args, { ...order, id: (i) => i.meta.id });
    },
  },
  User: {
    id: () => localUser().id,
    name: () => localUser().name,
    email: () => localUser().email,
    tenantId: () => LOCAL.toLowerCase(),
    org: () => ({}),
    customer: () => null,
  },
  Organization: {
    id: () => globalId("Organization", LOCAL.toLowerCase()),
    name: () => LOCAL,
  },
  UserTenantsConnection: { nodes: (c: any) => c.nodes },
  UserTenantAccess: {
    tenantId: (t: any) => t.tenantId,
    url: (t: any) => t.url,
    orgName: (t: any) => t.orgName,
    awsRegion: (t: any) => t.awsRegion,
    systemSuspended: (t: any) => t.systemSuspended,
  },
  Customer: {
    id: (c: Customer) => c.id,
    name: (c: Customer) => c.name,
    description: (c: Customer) => c.description,
    externalId: (c: Customer) => c.externalId,
    labels: (c: Customer) => c.labels ?? [],
    createdAt: (c: Customer) => c.createdAt,
    updatedAt: (c: Customer) => c.updatedAt ?? c.createdAt,
    instances: (c: Customer, args: InstanceArgs, ctx: ApiContext) => instances(ctx, args, c.id),
  },
  Instance: {
    id: (i: Instance) => i.id,
    name: (i: Instance) => i.name,
    description: (i: Instance) => i.description ?? "",
    labels: (i: Instance) => i.labels ?? [],
    enabled: (i: Instance) => i.enabled,
    isSystem: (i: Instance) => i.isSystem,
    createdAt: (i: Instance) => i.createdAt,
    updatedAt: (i: Instance) => i.updatedAt ?? i.createdAt,
    lastDeployedAt: (i: Instance) => i.lastDeployedAt,
    lastExecutedAt: (i: Instance, _: unknown, ctx: ApiContext) => iso(ctx.runtime.store.lastStartedAt.get(i.id)),
    // Never deployed: 0, as no build has that number.
    deployedVersion: (i: Instance) => i.deployedVersion ?? 0,
    needsDeploy: (i: Instance) => i.needsDeploy || !i.deployed,
    configState: (i: Instance, _: unknown, ctx: ApiContext) => configState(ctx, i),
    customer: (i: Instance, _: unknown, ctx: ApiContext) => ctx.runtime.instances.customer(i.customerId),
    integration: (i: Instance, _: unknown, ctx: ApiContext) => currentIntegration(ctx, i.integrationId),
    configVariables: (i: Instance, args: any, ctx: ApiContext) => {
      const defs = currentIntegration(ctx, i.integrationId)?.definition.configVars ?? [];
      // Every variable is ACTIVE locally (no connection authorisation happens here).
      const items = args.status == null || args.status.toUpperCase() === "ACTIVE" ? defs.map((def) => ({ instance: i, def })) : [];
      // All in one page: prism's config-vars:list never advances its cursor (clients.md §2).
      return connection(items, args, { primary: (v) => defs.indexOf(v.def), id: (v) => v.def.key, descending: false });
    },
    flowConfigs: (i: Instance, args: any, ctx: ApiContext) => {
      // SORT_ORDER is the order of the flows in the integration's code.
      const current = currentIntegration(ctx, i.integrationId);
      const flowOrder = current ? flowNodes(current).map((f) => f.id) : [];
      const items = ctx.runtime.instances.flowConfigsOf(i.id).filter((fc) => {
        const flow = ctx.runtime.flowById(fc.flowId); // none: a flow removed from the code (flowConfigOf)
        return flow && (args.flow_Name == null || flow.name === args.flow_Name);
      });
      const order = orderOf<FlowConfig>(args, { field: "SORT_ORDER", direction: "ASC" }, () => (fc) => flowOrder.indexOf(fc.flowId));
      return connection(items, args, { ...order, id: (fc) => fc.id });
    },
    executionResults: (i: Instance, args: any, ctx: ApiContext) => executionResults(ctx, args, { instance: i.id }),
    logs: (i: Instance, args: any, ctx: ApiContext) => logConnection(ctx, args, { instance: i.id }),
  },
  InstanceConfigVariable: {
    id: (v: ConfigVariableNode) => globalId("InstanceConfigVariable", `${v.instance.id}:${v.def.key}`),
    value: (v: ConfigVariableNode) => v.instance.configValues[v.def.key] ?? v.def.defaultValue,
    requiredConfigVariable: (v: ConfigVariableNode) => v.def,
    status: () => "ACTIVE",
    timeZone: (v: ConfigVariableNode) => v.def.timeZone,
    scheduleType: (v: ConfigVariableNode) => (v.def.dataType === "schedule" ? "CUSTOM" : null),
    // A connection's inputs are not kept locally (README, GraphQL API); other variables have none.
    inputs: (v: ConfigVariableNode, args: PageArgs) => (v.def.isConnection ? null : connection([], args, { primary: () => 0, id: () => "", descending: false })),
    // OAuth 2.0 connections are not run locally: no variable has an authorize URL.
    authorizeUrl: () => null,
  },
  Expression: properties("id", "name", "value", "hasValue"),
  RequiredConfigVariable: {
    id: (d: ConfigVarDefinition) => globalId("RequiredConfigVariable", d.key),
    key: (d: ConfigVarDefinition) => d.key,
    stableKey: (d: ConfigVarDefinition) => d.stableKey,
    defaultValue: (d: ConfigVarDefinition) => d.defaultValue,
    dataType: (d: ConfigVarDefinition) => (d.isConnection ? "CONNECTION" : d.dataType.toUpperCase()),
  },
  InstanceFlowConfig: {
    id: (fc: FlowConfig) => fc.id,
    apiKeys: (fc: FlowConfig) => fc.apiKeys,
    webhookUrl: (fc: FlowConfig, _: unknown, ctx: ApiContext) => ctx.runtime.webhookUrl(fc.id),
    flow: (fc: FlowConfig, _: unknown, ctx: ApiContext) => flowNode(ctx, fc.flowId),
    schedule: (fc: FlowConfig, _: unknown, ctx: ApiContext) => {
      const flow = flowNode(ctx, fc.flowId);
      return flow && schedule(ctx, flow, fc.instanceId);
    },
    instance: (fc: FlowConfig, _: unknown, ctx: ApiContext) => ctx.runtime.instances.instance(fc.instanceId),
    lastExecutedAt: (fc: FlowConfig, _: unknown, ctx: ApiContext) => iso(ctx.runtime.store.lastStartedAt.get(fc.id)),
    executionResults: (fc: FlowConfig, args: any, ctx: ApiContext) => executionResults(ctx, args, { flowConfig: fc.id }),
  },
  Integration: {
    id: (c: CurrentIntegration) => c.meta.id,
    name: (c: CurrentIntegration) => c.meta.name,
    description: (c: CurrentIntegration) => c.definition.description,
    labels: (c: CurrentIntegration) => c.definition.labels,
    category: (c: CurrentIntegration) => c.definition.category,
    // Integrations made for one customer do not exist locally.
    customer: () => null,
    isCodeNative: () => true,
    versionNumber: (c: CurrentIntegration) => c.meta.versionNumber,
    versionIsAvailable: () => true,
    versionCreatedAt: (c: CurrentIntegration) => c.meta.versionCreatedAt ?? null,
    versionCreatedBy: () => ({}),
    versionComment: () => null,
    // Older builds are not kept: the sequence is the latest build, which is available.
    versionSequence: (c: CurrentIntegration, args: any) => {
      const order = orderOf<CurrentIntegration>(args, { field: "VERSION_NUMBER", direction: "DESC" }, () => () => 0); // one item: any order
      return connection(args.versionIsAvailable === false ? [] : [c], args, { ...order, id: (i) => i.meta.id });
    },
    systemInstance: (c: CurrentIntegration, _: unknown, ctx: ApiContext) => ctx.runtime.instances.systemInstance(c.meta.id),
    flows: (c: CurrentIntegration, args: PageArgs) => {
      const nodes = flowNodes(c);
      return connection(nodes, args, { primary: (f) => nodes.indexOf(f), id: (f) => f.id, descending: false });
    },
  },
  IntegrationFlow: {
    id: (f: FlowNode) => f.id,
    name: (f: FlowNode) => f.def.name,
    description: (f: FlowNode) => f.def.description,
    stableKey: (f: FlowNode) => f.def.stableKey,
    isSynchronous: (f: FlowNode) => f.def.isSynchronous,
    usesFifoQueue: (f: FlowNode) => f.def.queueConfig?.usesFifoQueue ?? false,
    endpointSecurityType: (f: FlowNode) => (f.def.endpointSecurityType ?? "customer_optional").toUpperCase(),
    triggerKind: (f: FlowNode) => f.def.triggerKind,
    concurrencyLimit: (f: FlowNode) => {
      const q = f.def.queueConfig;
      return q?.usesFifoQueue || q?.singletonExecutions ? 1 : (q?.concurrencyLimit ?? null);
    },
    testUrl: (f: FlowNode, _: unknown, ctx: ApiContext) => {
      const current = ctx.runtime.integration!;
      const system = ctx.runtime.instances.systemInstance(current.meta.id);
      const fc = system && ctx.runtime.instances.flowConfigOf(system.id, f.id);
      if (!fc) throw new GraphQLError(`Flow "${f.def.name}" has no flow config on the system instance yet`);
      return ctx.runtime.webhookUrl(fc.id);
    },
    schedule: (f: FlowNode, { instance }: { instance?: string | null }, ctx: ApiContext) => schedule(ctx, f, instance),
    trigger: (f: FlowNode) => f.def.trigger,
  },
  // The trigger step: the flow's own component or a built-in trigger. Refract runs no polling triggers.
  IntegrationAction: {
    id: (t: FlowDefinition["trigger"]) => globalId("IntegrationAction", `${t.componentKey}/${t.actionKey}`),
    action: (t: FlowDefinition["trigger"]) => t,
  },
  Action: {
    id: (t: FlowDefinition["trigger"]) => globalId("Action", `${t.componentKey}/${t.actionKey}`),
    component: (t: FlowDefinition["trigger"]) => t,
    isPollingTrigger: () => false,
    scheduleSupport: (t: FlowDefinition["trigger"]) => (t.componentKey === "schedule-triggers" ? "REQUIRED" : t.ownComponent ? "VALID" : "INVALID"),
  },
  Component: {
    id: (t: FlowDefinition["trigger"]) => globalId("Component", t.componentKey),
    key: (t: FlowDefinition["trigger"]) => t.componentKey,
    forCodeNativeIntegration: (t: FlowDefinition["trigger"]) => t.ownComponent,
  },
  FlowSchedule: {
    cron: (s: any) => s.cron,
    timeZone: (s: any) => s.timeZone,
    configVariable: (s: any) => s.configVariable,
    nextRunsAt: (s: any, { count }: { count: number }) => {
      if (count < 0 || count > 100) throw new GraphQLError("count must be between 0 and 100");
      return nextRuns(s.schedule, count).map((d) => d.toISOString());
    },
  },
};
