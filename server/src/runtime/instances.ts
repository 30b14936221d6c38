import { randomBytes } from "node:crypto";
import { newId } from "../ids";
import { Customer, FlowConfig, Instance, IntegrationMeta, Metadata } from "../store/metadata";
import { FlowDefinition, IntegrationDefinition } from "./definition";

export const SYSTEM_CUSTOMER_NAME = "Refract Test Customer";

/** An instance operation that cannot be done; its message is meant for the user. */
export class InstanceError extends Error {}

/** The integration as the current build defines it. */
export interface CurrentIntegration {
  meta: IntegrationMeta;
  definition: IntegrationDefinition;
  /** The definition's flows by their (stable) flow id. */
  flowsById: Map<string, FlowDefinition>;
}

/**
 * Customers, instances and their flow configs as stored: create, configure, deploy (which makes
 * the flow configs live), enable, disable, remove. What runs around a deploy or a removal (hooks,
 * deploy and teardown flows, schedules) is lifecycle.ts.
 */
export class Instances {
  constructor(
    private readonly metadata: Metadata,
    private readonly current: (integrationId: string) => CurrentIntegration | null,
    /** Called after every change, so cached execution contexts are rebuilt. */
    private readonly changed: () => void,
  ) {}

  private index: { customers: Map<string, Customer>; instances: Map<string, Instance>; flowConfigs: Map<string, FlowConfig> } | null = null;

  private change<T>(fn: Parameters<Metadata["change"]>[0]): T {
    const result = this.metadata.change(fn) as T;
    this.index = null;
    this.changed();
    return result;
  }

  get customers(): readonly Customer[] {
    return this.metadata.data.customers;
  }

  get all(): readonly Instance[] {
    return this.metadata.data.instances;
  }

  customer(id: string): Customer | undefined {
    return this.byId().customers.get(id);
  }

  instance(id: string): Instance | undefined {
    return this.byId().instances.get(id);
  }

  flowConfig(id: string): FlowConfig | undefined {
    return this.byId().flowConfigs.get(id);
  }

  /** Lookups by id for every webhook, rebuilt after a change. */
  private byId() {
    this.index ??= {
      customers: new Map(this.metadata.data.customers.map((c) => [c.id, c])),
      instances: new Map(this.metadata.data.instances.map((i) => [i.id, i])),
      flowConfigs: new Map(this.metadata.data.flowConfigs.map((f) => [f.id, f])),
    };
    return this.index;
  }

  flowConfigsOf(instanceId: string): FlowConfig[] {
    return this.metadata.data.flowConfigs.filter((f) => f.instanceId === instanceId);
  }

  /** The one system customer of this data dir (INTERFACES.md §3). */
  systemCustomer(): Customer {
    const existing = this.customers.find((c) => c.isSystem);
    if (existing) return existing;
    return this.change((d) => {
      const c: Customer = { id: newId("Customer"), name: SYSTEM_CUSTOMER_NAME, externalId: null, description: "", isSystem: true, createdAt: new Date().toISOString() };
      d.customers.push(c);
      return c;
    });
  }

  systemInstance(integrationId: string): Instance | undefined {
    return this.all.find((i) => i.isSystem && i.integrationId === integrationId);
  }

  createCustomer(input: { name: string; externalId?: string | null; description?: string }): Customer {
    const name = input.name?.trim();
    if (!name) throw new InstanceError("A customer needs a name.");
    if (this.customers.some((c) => c.name === name)) throw new InstanceError(`Customer with this name already exists: ${name}`);
    if (input.externalId && this.customers.some((c) => c.externalId === input.externalId)) {
      throw new InstanceError(`Customer with this external id already exists: ${input.externalId}`);
    }
    return this.change((d) => {
      const c: Customer = { id: newId("Customer"), name, externalId: input.externalId ?? null, description: input.description ?? "", isSystem: false, createdAt: new Date().toISOString() };
      d.customers.push(c);
      return c;
    });
  }

  createInstance(input: { integrationId: string; customerId: string; name: string; configValues?: Record<string, string>; isSystem?: boolean }): Instance {
    const integration = this.current(input.integrationId);
    if (!integration) throw new InstanceError(`Unknown integration ${input.integrationId}, or it has no successful build yet.`);
    if (!this.customer(input.customerId)) throw new InstanceError(`Unknown customer ${input.customerId}.`);
    const name = input.name?.trim();
    if (!name) throw new InstanceError("An instance needs a name.");
    const configValues = this.checkedValues(integration, input.configValues ?? {});
    return this.change((d) => {
      const i: Instance = {
        id: newId("Instance"),
        name,
        integrationId: input.integrationId,
        customerId: input.customerId,
        isSystem: input.isSystem ?? false,
        configValues,
        enabled: true,
        deployed: false,
        deployError: null,
        deployedVersion: null,
        lastDeployedAt: null,
        needsDeploy: true,
        createdAt: new Date().toISOString(),
      };
      d.instances.push(i);
      return i;
    });
  }

  /** Sets config variable values (strings, as Prismatic stores them); the system instance needs no redeploy. */
  configure(instanceId: string, values: Record<string, string>): Instance {
    const instance = this.required(instanceId);
    const integration = this.current(instance.integrationId);
    if (!integration) throw new InstanceError("The integration has no successful build yet.");
    const checked = this.checkedValues(integration, values);
    return this.change(() => {
      Object.assign(instance.configValues, checked);
      if (!instance.isSystem) instance.needsDeploy = true;
      return instance;
    });
  }

  /** One flow config per flow of the current build (existing ones keep their ids and webhook URLs). */
  ensureFlowConfigs(instanceId: string): void {
    const instance = this.required(instanceId);
    const integration = this.current(instance.integrationId);
    if (!integration) throw new InstanceError("The integration has no successful build yet.");
    const have = new Set(this.flowConfigsOf(instanceId).map((f) => f.flowId));
    if (Object.values(integration.meta.flowIds).every((id) => have.has(id))) return;
    this.change((d) => this.addFlowConfigs(d.flowConfigs, instance, integration));
  }

  /**
   * Marks the instance live on the current build, after its deploy hooks ran (lifecycle.ts runs
   * the whole deploy).
   */
  deploy(instanceId: string): Instance {
    const instance = this.required(instanceId);
    const integration = this.current(instance.integrationId);
    if (!integration) throw new InstanceError("The integration has no successful build yet.");
    return this.change((d) => {
      this.addFlowConfigs(d.flowConfigs, instance, integration);
      instance.deployed = true;
      instance.deployError = null;
      instance.deployedVersion = integration.meta.versionNumber;
      instance.lastDeployedAt = new Date().toISOString();
      instance.needsDeploy = false;
      return instance;
    });
  }

  /** A deploy that failed leaves the instance undeployed, with the reason. */
  deployFailed(instanceId: string, error: string): void {
    const instance = this.required(instanceId);
    this.change(() => {
      instance.deployed = false;
      instance.deployError = error;
    });
  }

  /** Deletes an instance and its flow configs (its executions stay until retention). */
  remove(instanceId: string): void {
    this.required(instanceId);
    this.change((d) => {
      d.instances = d.instances.filter((i) => i.id !== instanceId);
      d.flowConfigs = d.flowConfigs.filter((f) => f.instanceId !== instanceId);
    });
  }

  /** The flow config of an instance's flow. */
  flowConfigOf(instanceId: string, flowId: string): FlowConfig | undefined {
    return this.metadata.data.flowConfigs.find((f) => f.instanceId === instanceId && f.flowId === flowId);
  }

  setEnabled(instanceId: string, enabled: boolean): Instance {
    const instance = this.required(instanceId);
    return this.change(() => {
      instance.enabled = enabled;
      return instance;
    });
  }

  private addFlowConfigs(flowConfigs: FlowConfig[], instance: Instance, integration: CurrentIntegration): void {
    for (const flow of integration.definition.flows) {
      const flowId = integration.meta.flowIds[flow.stableKey];
      if (flowConfigs.some((f) => f.instanceId === instance.id && f.flowId === flowId)) continue;
      flowConfigs.push({ id: newId("InstanceFlowConfig"), instanceId: instance.id, flowId, apiKeys: [randomBytes(24).toString("base64url")] });
    }
  }

  private required(instanceId: string): Instance {
    const instance = this.instance(instanceId);
    if (!instance) throw new InstanceError(`Unknown instance ${instanceId}.`);
    return instance;
  }

  private checkedValues(integration: CurrentIntegration, values: Record<string, string>): Record<string, string> {
    const known = new Set(integration.definition.configVars.map((v) => v.key));
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
      if (!known.has(key)) throw new InstanceError(`The integration has no config variable "${key}".`);
      if (typeof value !== "string") throw new InstanceError(`The value of config variable "${key}" must be a string.`);
      out[key] = value;
    }
    return out;
  }
}
