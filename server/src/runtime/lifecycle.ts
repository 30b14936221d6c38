import type { Customer, Instance } from "../store/metadata";
import type { FlowDefinition } from "./definition";
import { InstanceError, type Instances } from "./instances";
import type { HookName } from "./messages";
import { TriggerRefused, emptyRequest } from "./invocation";
import type { Runtime } from "./runtime";
import { Schedule, Scheduler, scheduleError } from "./scheduler";

/**
 * What runs around an instance's life (issue: triggers): deploy runs the `onInstanceDeploy`
 * hooks one after another, then every instance-deploy flow as a DEPLOY_FLOW execution, then arms
 * the schedules; removal runs every instance-remove flow to its end (TEAR_DOWN_FLOW), then the
 * `onInstanceDelete` hooks, then disarms and deletes. Schedules follow deploys, enable and
 * disable, config changes and builds at once.
 */
export class Lifecycle {
  readonly scheduler: Scheduler;
  /** Instances with a deploy or removal under way: a second one is refused. */
  private readonly busy = new Set<string>();

  constructor(private readonly runtime: Runtime) {
    this.scheduler = new Scheduler((instanceId, flowId) => this.fire(instanceId, flowId));
  }

  private get instances() {
    return this.runtime.instances;
  }

  /**
   * Deploys an instance on the current build. A failing hook leaves it undeployed with the
   * reason, and throws it.
   */
  async deploy(instanceId: string): Promise<Instance> {
    const instance = this.instances.instance(instanceId);
    if (!instance) throw new InstanceError(`Unknown instance ${instanceId}.`);
    const integration = this.runtime.integration;
    if (!integration || integration.meta.id !== instance.integrationId) throw new InstanceError("The integration has no successful build yet.");
    if (!instance.isSystem) {
      // The system instance runs with what it has (INTERFACES.md §3); others need every value.
      const missing = integration.definition.configVars.filter((v) => isBlank(instance.configValues[v.key] ?? v.defaultValue)).map((v) => v.key);
      if (missing.length) throw new InstanceError(`Instance "${instance.name}" cannot be deployed: required config variables have no value: ${missing.join(", ")}`);
    }
    for (const flow of integration.definition.flows) {
      const problem = this.scheduleOf(instance, flow).error;
      if (problem) throw new InstanceError(`Instance "${instance.name}" cannot be deployed: flow "${flow.name}" has an ${problem}`);
    }
    return this.exclusively(instance, "deployed", async () => {
      this.instances.ensureFlowConfigs(instanceId);
      for (const flow of integration.definition.flows) {
        const error = await this.hook(instance, flow, "onInstanceDeploy");
        if (error) {
          const reason = `onInstanceDeploy of flow "${flow.name}" failed: ${error}`;
          this.instances.deployFailed(instanceId, reason);
          this.arm(instanceId);
          throw new InstanceError(`Instance "${instance.name}" was not deployed: ${reason}`);
        }
      }
      const deployed = this.instances.deploy(instanceId);
      for (const flow of integration.definition.flows) {
        if (flow.triggerKind === "INSTANCE_DEPLOY") await this.invoke(instance, flow, "DEPLOY_FLOW");
      }
      this.arm(instanceId);
      return deployed;
    });
  }

  /** Removes an instance; its executions and logs stay until retention removes them. */
  async remove(instanceId: string): Promise<void> {
    const instance = this.instances.instance(instanceId);
    if (!instance) throw new InstanceError(`Unknown instance ${instanceId}.`);
    if (instance.isSystem) throw new InstanceError(`"${instance.name}" is the integration's system instance: it cannot be removed (disable it to pause it).`);
    await this.exclusively(instance, "removed", async () => {
      const flows = this.runtime.integration?.meta.id === instance.integrationId ? this.runtime.integration.definition.flows : [];
      if (instance.deployed) {
        const teardowns = [];
        for (const flow of flows) if (flow.triggerKind === "INSTANCE_REMOVE") teardowns.push(await this.invoke(instance, flow, "TEAR_DOWN_FLOW"));
        await Promise.all(teardowns.map((id) => id && this.runtime.ended(id)));
        for (const flow of flows) await this.hook(instance, flow, "onInstanceDelete");
      }
      this.scheduler.set(instanceId, new Map());
      this.instances.remove(instanceId);
    });
  }

  /** Deletes a customer: its instances are removed first, each as `remove` does. */
  async removeCustomer(customerId: string): Promise<Customer> {
    const customer = this.instances.customer(customerId);
    if (!customer) throw new InstanceError(`Unknown customer ${customerId}.`);
    if (customer.isSystem) throw new InstanceError(`"${customer.name}" is the system customer: it cannot be deleted.`);
    for (const instance of this.instances.all.filter((i) => i.customerId === customerId)) await this.remove(instance.id);
    return this.instances.deleteCustomer(customerId);
  }

  setEnabled(instanceId: string, enabled: boolean): Instance {
    const instance = this.instances.setEnabled(instanceId, enabled);
    this.arm(instanceId);
    return instance;
  }

  /** Creates an instance (undeployed), refusing config values that would give a flow an invalid schedule. */
  createInstance(input: Parameters<Instances["createInstance"]>[0]): Instance {
    this.refuseBadSchedules(input.configValues ?? {});
    return this.instances.createInstance(input);
  }

  /**
   * Sets config values. Schedules follow at once, as executions take the new values at once (a
   * deployed instance also says `needsDeploy`, as Prismatic would ask for a redeploy).
   */
  configure(instanceId: string, values: Record<string, string>): Instance {
    const instance = this.instances.instance(instanceId);
    if (instance) this.refuseBadSchedules({ ...instance.configValues, ...values });
    const configured = this.instances.configure(instanceId, values);
    this.arm(instanceId);
    return configured;
  }

  private refuseBadSchedules(configValues: Record<string, string>): void {
    for (const flow of this.runtime.integration?.definition.flows ?? []) {
      const problem = this.scheduleOf({ configValues }, flow).error;
      if (problem) throw new InstanceError(`Flow "${flow.name}" would have an ${problem}`);
    }
  }

  /**
   * After every good build: the system instance takes the new flows (and is deployed if it is new,
   * or its last deploy failed), and every instance's schedules follow the code.
   */
  async built(): Promise<void> {
    const integration = this.runtime.integration!;
    let system = this.instances.systemInstance(integration.meta.id);
    if (!system) {
      system = this.instances.createInstance({ integrationId: integration.meta.id, customerId: this.instances.systemCustomer().id, name: `${integration.meta.name} (test)`, isSystem: true });
    } else this.instances.nameSystemInstance(system.id, integration.meta.name);
    if (system.deployed) this.instances.ensureFlowConfigs(system.id);
    else await this.deploy(system.id).catch((err) => process.stderr.write(`refract: ${(err as Error).message}\n`));
    for (const instance of this.instances.all) if (instance.integrationId === integration.meta.id) this.arm(instance.id);
  }

  stop(): void {
    this.scheduler.stop();
  }

  /** The schedule of a flow for an instance: its declared one, or its config variable's value. */
  scheduleOf(instance: Pick<Instance, "configValues">, flow: FlowDefinition): { schedule: Schedule | null; error: string | null } {
    const s = flow.schedule;
    if (!s || flow.triggerKind !== "SCHEDULE") return { schedule: null, error: null };
    if (s.type === "value") return { schedule: { cron: s.cron, timeZone: s.timeZone }, error: null };
    const variable = this.runtime.integration?.definition.configVars.find((v) => v.key === s.configVar);
    const cron = instance.configValues[s.configVar] ?? variable?.defaultValue;
    if (isBlank(cron)) return { schedule: null, error: null }; // nothing to run until it has a value
    const schedule = { cron: cron!, timeZone: variable?.timeZone ?? null };
    const problem = scheduleError(schedule);
    return { schedule, error: problem && `${problem} (config variable "${s.configVar}")` };
  }

  /** Exactly the schedules that should run for an instance now. */
  private arm(instanceId: string): void {
    const instance = this.instances.instance(instanceId);
    const integration = this.runtime.integration;
    const schedules = new Map<string, Schedule>();
    if (instance && integration && instance.deployed && instance.enabled && integration.meta.id === instance.integrationId) {
      for (const flow of integration.definition.flows) {
        const { schedule } = this.scheduleOf(instance, flow);
        if (schedule) schedules.set(integration.meta.flowIds[flow.stableKey], schedule);
      }
    }
    this.scheduler.set(instanceId, schedules);
  }

  private fire(instanceId: string, flowId: string): void {
    const instance = this.instances.instance(instanceId);
    const flow = this.runtime.flowById(flowId);
    if (instance && flow) void this.invoke(instance, flow, "SCHEDULED", { "prismatic-invoke-type": "Scheduled" });
  }

  /** Starts an execution of an instance's flow; resolves to its id, or null (with a notice) when it cannot start. */
  private async invoke(instance: Instance, flow: FlowDefinition, invokeType: "SCHEDULED" | "DEPLOY_FLOW" | "TEAR_DOWN_FLOW", headers: Record<string, string> = {}): Promise<string | null> {
    const fc = this.instances.flowConfigOf(instance.id, this.runtime.integration!.meta.flowIds[flow.stableKey]);
    if (!fc) return null;
    try {
      return (await this.runtime.invoke(fc.id, emptyRequest(this.runtime.webhookUrl(fc.id), headers), invokeType)).id;
    } catch (err) {
      if (!(err instanceof TriggerRefused)) throw err;
      process.stderr.write(`refract: ${invokeType} execution of flow "${flow.name}" on "${instance.name}" not started: ${err.message}\n`);
      return null;
    }
  }

  private hook(instance: Instance, flow: FlowDefinition, hook: HookName): Promise<string | null> {
    return flow.hooks.includes(hook) ? this.runtime.runHook(instance.id, flow, hook) : Promise.resolve(null);
  }

  private async exclusively<T>(instance: Instance, what: string, work: () => Promise<T>): Promise<T> {
    if (this.busy.has(instance.id)) throw new InstanceError(`Instance "${instance.name}" is being deployed or removed; try again once that is done (it cannot be ${what} twice at once).`);
    this.busy.add(instance.id);
    try {
      return await work();
    } finally {
      this.busy.delete(instance.id);
    }
  }
}

const isBlank = (v: string | null | undefined) => v === null || v === undefined || v === "";
