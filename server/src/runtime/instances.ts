import { randomBytes } from "node:crypto";
import { newId } from "../ids";
import { Customer, FlowConfig, Instance, IntegrationMeta, Metadata } from "../store/metadata";
import { FlowDefinition, IntegrationDefinition, configValueError } from "./definition";

export const SYSTEM_CUSTOMER_NAME = "Refract Test Customer";

/** An instance or customer operation that cannot be done; its message is meant for the user. */
export class InstanceError extends Error {
  constructor(
    message: string,
    /** The input field at fault, when there is one (the API reports it as the error's field). */
    readonly field = "__all__",
  ) {
    super(message);
  }
}

export interface CustomerFields {
  name?: string;
  externalId?: string | null;
  description?: string | null;
  labels?: string[] | null;
}

/**
 * Bounds on what people type: names show in tree views, logs and `prism` tables, and the metadata
 * file is rewritten whole on every change. Config values are not bounded here (code and JSON
 * values can be large); the API's body limit bounds them.
 */
const MAX_NAME = 255;
const MAX_DESCRIPTION = 10_000;

/** A required name, trimmed, within MAX_NAME. */
function checkedName(value: string | null | undefined, what: string): string {
  const name = typeof value === "string" ? value.trim() : "";
  if (!name) throw new InstanceError(`${what} needs a name.`, "name");
  if (name.length > MAX_NAME) throw new InstanceError(`${what}'s name is ${name.length} characters long; at most ${MAX_NAME} are allowed.`, "name");
  return name;
}

function checkedDescription(value: string | null | undefined): string {
  const description = value ?? "";
  if (description.length > MAX_DESCRIPTION) throw new InstanceError(`The description is ${description.length} characters long; at most ${MAX_DESCRIPTION} are allowed.`, "description");
  return description;
}

function checkedLabels(labels: Array<string | null> | null | undefined): string[] {
  const out = (labels ?? []).map((l) => (typeof l === "string" ? l.trim() : ""));
  if (out.some((l) => !l)) throw new InstanceError("Labels must be non-empty strings.", "labels");
  if (out.some((l) => l.length > MAX_NAME)) throw new InstanceError(`A label has at most ${MAX_NAME} characters.`, "labels");
  return [...new Set(out)];
}

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

  private change<T>(fn: (data: Metadata["data"] & { instances: Instance[]; flowConfigs: FlowConfig[]; customers: Customer[] }) => T): T {
    const result = this.metadata.change(fn);
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

  createCustomer(input: CustomerFields & { name: string }): Customer {
    const fields = this.checkedCustomer(input, null);
    return this.change((d) => {
      const now = new Date().toISOString();
      const c: Customer = { id: newId("Customer"), name: "", externalId: null, description: "", isSystem: false, createdAt: now, updatedAt: now };
      Object.assign(c, fields);
      d.customers.push(c);
      return c;
    });
  }

  updateCustomer(id: string, input: CustomerFields): Customer {
    const customer = this.customer(id);
    if (!customer) throw new InstanceError(`Unknown customer ${id}.`);
    if (customer.isSystem) throw new InstanceError(`"${customer.name}" is the system customer: it cannot be changed.`);
    const fields = this.checkedCustomer(input, customer);
    return this.change(() => Object.assign(customer, fields, { updatedAt: new Date().toISOString() }));
  }

  /** Deletes a customer that has no instances left (lifecycle.ts removes them first). */
  deleteCustomer(id: string): Customer {
    const customer = this.customer(id);
    if (!customer) throw new InstanceError(`Unknown customer ${id}.`);
    if (customer.isSystem) throw new InstanceError(`"${customer.name}" is the system customer: it cannot be deleted.`);
    if (this.all.some((i) => i.customerId === id)) throw new InstanceError(`Customer "${customer.name}" still has instances.`);
    this.change((d) => (d.customers = d.customers.filter((c) => c.id !== id)));
    return customer;
  }

  private checkedCustomer(input: CustomerFields, existing: Customer | null): CustomerFields {
    const out: CustomerFields = {};
    if (input.name !== undefined || !existing) {
      const name = checkedName(input.name, "A customer");
      if (this.customers.some((c) => c.name === name && c !== existing)) throw new InstanceError("Customer with this name already exists.", "name");
      out.name = name;
    }
    if (input.externalId !== undefined) {
      if (input.externalId && input.externalId.length > MAX_NAME) throw new InstanceError(`An external id has at most ${MAX_NAME} characters.`, "externalId");
      if (input.externalId && this.customers.some((c) => c.externalId === input.externalId && c !== existing)) {
        throw new InstanceError("Customer with this external id already exists.", "externalId");
      }
      out.externalId = input.externalId || null;
    }
    if (input.description !== undefined) out.description = checkedDescription(input.description);
    if (input.labels !== undefined) out.labels = checkedLabels(input.labels);
    return out;
  }

  createInstance(input: { integrationId: string; customerId: string; name: string; description?: string; labels?: string[]; configValues?: Record<string, string>; isSystem?: boolean }): Instance {
    const integration = this.current(input.integrationId);
    if (!integration) throw new InstanceError(`Unknown integration ${input.integrationId}, or it has no successful build yet.`);
    if (!this.customer(input.customerId)) throw new InstanceError(`Unknown customer ${input.customerId}.`);
    // The system instance is named after the integration, whatever its length.
    const name = input.isSystem ? input.name : checkedName(input.name, "An instance");
    const description = checkedDescription(input.description);
    const configValues = this.checkedValues(integration, input.configValues ?? {});
    const labels = checkedLabels(input.labels);
    return this.change((d) => {
      const now = new Date().toISOString();
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
        description,
        labels,
        createdAt: now,
        updatedAt: now,
      };
      d.instances.push(i);
      return i;
    });
  }

  /**
   * Checks a change of name, description or labels and returns what applies it, so that a
   * mutation that also changes other things checks everything before it changes anything.
   */
  updateInstance(instanceId: string, input: { name?: string; description?: string; labels?: string[] }): () => Instance {
    const instance = this.required(instanceId);
    const name = input.name === undefined ? instance.name : checkedName(input.name, "An instance");
    if (instance.isSystem && name !== instance.name) {
      throw new InstanceError(`"${instance.name}" is the integration's system instance: its name follows the integration's.`, "name");
    }
    const description = input.description === undefined ? instance.description ?? "" : checkedDescription(input.description);
    const labels = input.labels === undefined ? instance.labels : checkedLabels(input.labels);
    return () => this.change(() => Object.assign(instance, { name, description, labels, updatedAt: new Date().toISOString() }));
  }

  /** The system instance is named after its integration (INTERFACES.md §3), which a build can rename. */
  nameSystemInstance(instanceId: string, integrationName: string): void {
    const instance = this.required(instanceId);
    const name = `${integrationName} (test)`;
    if (instance.isSystem && instance.name !== name) this.change(() => Object.assign(instance, { name, updatedAt: new Date().toISOString() }));
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
      instance.updatedAt = new Date().toISOString();
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
      instance.updatedAt = new Date().toISOString();
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
      const problem = configValueError(integration.definition.configVars.find((v) => v.key === key)!, value);
      if (problem) throw new InstanceError(`The value of config variable "${key}" ${problem}.`);
      out[key] = value;
    }
    return out;
  }
}
