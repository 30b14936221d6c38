import * as fs from "node:fs";
import * as path from "node:path";
import type { TypedDocumentString } from "graphql-request";
import * as vscode from "vscode";
import {
  ExecutionFilter,
  ExecutionStatus,
  CancelExecution,
  CreateCustomer,
  CreateInstance,
  CustomerTree,
  ExecutionRequest,
  ReplayFailedExecutions,
  SetConfigVariables,
  DeleteCustomer,
  DeleteInstance,
  DeployInstance,
  IntegrationTree,
  RecentExecutions,
  RenameCustomer,
  ReplayExecution,
  SetInstanceEnabled,
  TestInstanceFlowConfig,
  TestIntegrationFlow,
} from "../../protocol/prismatic-api/operations";
import type { LogScope } from "../../protocol/webview";
import type { Ctx } from "./ctx";
import type { Panels } from "./panels/panels";
import { ExecutionDocuments } from "./documents";
import type { CustomersView, CustomerNode } from "./views/customers";
import type { ExecutionNode, ExecutionsView } from "./views/executions";
import type { InstanceNode, InstancesView } from "./views/instances";

export interface Views {
  instances: InstancesView;
  customers: CustomersView;
  executions: ExecutionsView;
}

type FlowNode = Extract<InstanceNode, { kind: "flow" }>;
type InstanceItem = Extract<InstanceNode, { kind: "instance" }>;
type CustomerItem = Extract<CustomerNode, { kind: "customer" }>;
type ExecutionItem = Extract<ExecutionNode, { kind: "execution" }>;
type StepItem = Extract<ExecutionNode, { kind: "step" }>;

/** A payload to trigger a flow with, as Prismatic's extension writes them (INTERFACES.md §6). */
interface Payload {
  data: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * The `Refract: …` commands. Each takes the tree item it was invoked on (or asks, from the
 * palette); tests and other extensions may pass what a picker would have asked for.
 */
export function registerCommands(ctx: Ctx, views: Views, panels: Panels): vscode.Disposable[] {
  const mutate: Mutate = async <R extends Record<string, { errors: Array<{ field: string; messages: string[] }> }>, V extends object>(document: TypedDocumentString<R, V>, variables: V): Promise<R[keyof R]> => {
    const api = await ctx.api();
    const data = (await api.request<R>(String(document), variables as Record<string, unknown>)) as R;
    const payload = Object.values(data)[0] as R[keyof R];
    if (payload.errors.length) throw new Error(payload.errors.map((e) => (e.field === "__all__" ? "" : `${e.field}: `) + e.messages.join(", ")).join("; "));
    return payload;
  };
  const command = (id: string, run: (...args: any[]) => Promise<unknown> | unknown) =>
    vscode.commands.registerCommand(id, async (...args: any[]) => {
      try {
        return await run(...args);
      } catch (err) {
        void vscode.window.showErrorMessage(`Refract: ${(err as Error).message}`);
        return undefined;
      }
    });

  return [
    command("refract.output.show", () => ctx.output.show()),
    command("refract.runtime.restart", async () => {
      await ctx.restart();
      void vscode.window.showInformationMessage("Refract: runtime restarted");
    }),
    command("refract.token.copy", async () => {
      await vscode.env.clipboard.writeText((await ctx.runtime()).token);
      void vscode.window.showInformationMessage("Refract: API token copied");
    }),
    command("refract.executions.loadMore", () => views.executions.loadMore()),
    // Narrows the Executions view one criterion at a time (or sets a filter given whole).
    command("refract.executions.filter", async (given?: { filter: ExecutionFilter; description?: string }) => {
      if (given) return views.executions.setFilter(given.filter, given.description);
      const added = await pickFilter(ctx);
      if (!added) return undefined;
      const current = views.executions;
      if (added.clear) return current.setFilter({}, "");
      return current.setFilter({ ...current.filter, ...added.filter }, [current.description, added.label].filter(Boolean).join(" · "));
    }),

    // From a tree item, from a CodeLens (`{flowName}`: the flow on the system instance), or from the palette (asks).
    command("refract.flow.trigger", async (node?: FlowNode | { flowName: string }, payloadFile?: string) => {
      const flow = node && "kind" in node ? node : await pickFlow(ctx, node?.flowName);
      if (!flow) return undefined;
      const payload = payloadFile ? readPayload(payloadFile) : await pickPayload(flow);
      if (!payload) return undefined;
      const body = { payload: typeof payload.data === "string" ? payload.data : JSON.stringify(payload.data ?? {}), contentType: payload.contentType ?? "application/json", headers: JSON.stringify(payload.headers ?? {}) };
      const result = flow.instance.isSystem
        ? (await mutate(TestIntegrationFlow, { flow: flow.flowConfig.flow.id, ...body })).testIntegrationFlowResult
        : (await mutate(TestInstanceFlowConfig, { flowConfig: flow.flowConfig.id, ...body })).testInstanceFlowConfigResult;
      return result?.execution.id;
    }),
    command("refract.flow.copyWebhookUrl", async (node: FlowNode) => {
      await vscode.env.clipboard.writeText(node.flowConfig.webhookUrl);
      void vscode.window.showInformationMessage(`Refract: webhook URL of ${node.flowConfig.flow.name} copied`);
    }),

    command("refract.execution.replay", async (node?: ExecutionItem) => {
      const id = node?.execution.id ?? (await pickExecution(ctx, "Replay which execution?"));
      if (!id) return undefined;
      return (await mutate(ReplayExecution, { id })).instanceExecutionResult?.id;
    }),
    // Bulk: every failed execution (of one flow, or all) without a successful replay yet; a
    // progress notification follows the replays to their ends, then a summary.
    command("refract.execution.replayFailed", async (scope?: { flowId: string | null }) => {
      scope ??= await pickReplayScope(ctx);
      if (!scope) return undefined;
      // Listening from before the replays start: a replay that fails at once can end before the
      // mutation's answer arrives.
      const ended = new Map<string, boolean>(); // id → succeeded
      let follow = () => {};
      const listener = ctx.onExecutionsChanged((changes) => {
        for (const c of changes) if (c.endedAt !== null) ended.set(c.id, c.status === "SUCCESS");
        follow();
      });
      const outcome = { count: 0, succeeded: 0, failed: 0 };
      try {
        const { count, instanceExecutionResults } = await mutate(ReplayFailedExecutions, { flow: scope.flowId });
        outcome.count = count;
        if (count === 0) {
          void vscode.window.showInformationMessage("Refract: no failed executions to replay");
          return outcome;
        }
        const pending = new Set(instanceExecutionResults.nodes.map((n) => n.id));
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Refract: replaying ${count} failed executions` }, (progress) =>
          new Promise<void>((resolve) => {
            follow = () => {
              for (const [id, succeeded] of ended) {
                if (!pending.delete(id)) continue;
                if (succeeded) outcome.succeeded++;
                else outcome.failed++;
                progress.report({ increment: 100 / count, message: `${outcome.succeeded + outcome.failed} of ${count} done` });
              }
              ended.clear();
              if (pending.size === 0) resolve();
            };
            follow();
          }),
        );
      } finally {
        listener.dispose();
      }
      void vscode.window.showInformationMessage(`Refract: replayed ${outcome.count} failed executions: ${outcome.succeeded} succeeded, ${outcome.failed} failed again`);
      return outcome;
    }),
    command("refract.execution.cancel", async (node?: ExecutionItem) => {
      const id = node?.execution.id ?? (await pickExecution(ctx, "Cancel which execution?", true));
      if (id) await mutate(CancelExecution, { id });
    }),
    command("refract.execution.copyId", async (node: ExecutionItem) => vscode.env.clipboard.writeText(node.execution.id)),
    command("refract.execution.open", async (node?: ExecutionItem | { id: string }) => {
      const id = node ? ("execution" in node ? node.execution.id : node.id) : await pickExecution(ctx, "Open which execution?");
      if (id) panels.show({ kind: "execution", id });
    }),
    // The log explorer, scoped to what it was invoked on; from the palette, a scope to pick (or `scope` given).
    command("refract.execution.openLogs", async (node?: ExecutionItem | InstanceNode | CustomerNode | LogScope) => {
      const scope = node ? logScopeOf(node) : await pickLogScope(ctx);
      if (scope) panels.show({ kind: "logs", scope });
    }),
    command("refract.execution.openLogsDocument", async (node: ExecutionItem) => vscode.window.showTextDocument(ExecutionDocuments.logsUri(node.execution.id), { preview: true })),
    // The request an execution was invoked with, as a payload file the Trigger Flow… picker offers.
    command("refract.execution.savePayload", async (node: ExecutionItem, name?: string) => {
      const { executionResult: x } = await (await ctx.api()).request(ExecutionRequest, { id: node.execution.id });
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      if (!x?.flow?.stableKey || !folder) throw new Error("this execution's flow is not in the current build");
      name ??= await vscode.window.showInputBox({ prompt: `Save the payload of this ${x.flow.name} execution as`, value: `payload-${new Date().toISOString().slice(0, 19).replace(/:/g, "-")}` });
      if (!name) return undefined;
      const response = await fetch(x.requestPayloadUrl);
      if (!response.ok) throw new Error(`the execution's request could not be fetched: HTTP ${response.status}`);
      const request = (await response.json()) as { body: string; contentType: string; headers: Record<string, string> };
      const text = Buffer.from(request.body, "base64").toString("utf8");
      let data: unknown = text;
      try {
        data = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      const file = path.join(folder, ".spectral", "flows", x.flow.stableKey, "payloads", `${name.replace(/[\\/:*?"<>|]/g, "-")}.json`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ headers: request.headers, data, contentType: request.contentType }, null, 2) + "\n");
      void vscode.window.showInformationMessage(`Refract: payload saved as ${path.relative(folder, file)}`);
      return file;
    }),
    command("refract.step.open", (node: StepItem) => vscode.window.showTextDocument(ExecutionDocuments.stepUri(node.execution.id, node.step.stepName), { preview: true })),

    // From an instance item: (re)deploy it. From the palette: a new instance for a customer (picked
    // or created), named, with a value for each config variable that has none, then deployed.
    command("refract.instance.deploy", async (node?: InstanceItem | NewInstance) => {
      const id = node && "kind" in node ? node.instance.id : await createInstance(ctx, mutate, node);
      if (!id) return undefined;
      await mutate(DeployInstance, { id });
      views.instances.refresh();
      views.customers.refresh();
      return id;
    }),
    command("refract.instance.enable", async (node: InstanceItem) => {
      await mutate(SetInstanceEnabled, { id: node.instance.id, enabled: true });
      views.instances.refresh();
    }),
    command("refract.instance.disable", async (node: InstanceItem) => {
      await mutate(SetInstanceEnabled, { id: node.instance.id, enabled: false });
      views.instances.refresh();
    }),
    command("refract.instance.remove", async (node?: InstanceItem, confirmed?: boolean) => {
      const instance = node?.instance ?? (await pickInstance(ctx));
      if (!instance) return;
      if (!confirmed && (await vscode.window.showWarningMessage(`Remove instance "${instance.name}"? Its teardown flows run; its executions stay.`, { modal: true }, "Remove")) !== "Remove") return;
      await mutate(DeleteInstance, { id: instance.id });
      views.instances.refresh();
      views.customers.refresh();
    }),

    command("refract.customer.create", async (name?: string) => {
      name ??= await vscode.window.showInputBox({ prompt: "Name of the new customer", validateInput: (v) => (v.trim() ? null : "A customer needs a name") });
      if (!name) return undefined;
      const created = await mutate(CreateCustomer, { name });
      views.customers.refresh();
      return created.customer?.id;
    }),
    command("refract.customer.rename", async (node: CustomerItem, name?: string) => {
      name ??= await vscode.window.showInputBox({ prompt: `New name of ${node.name}`, value: node.name });
      if (!name) return;
      await mutate(RenameCustomer, { id: node.id, name });
      views.customers.refresh();
    }),
    command("refract.customer.delete", async (node: CustomerItem, confirmed?: boolean) => {
      if (!confirmed && (await vscode.window.showWarningMessage(`Delete customer "${node.name}" and remove its instances?`, { modal: true }, "Delete")) !== "Delete") return;
      await mutate(DeleteCustomer, { id: node.id });
      views.customers.refresh();
      views.instances.refresh();
    }),
  ];
}

/** What Deploy Instance… asks, when given instead (tests, other extensions). */
interface NewInstance {
  customerName: string;
  instanceName: string;
  configValues?: Record<string, string>;
}

type Mutate = <R extends Record<string, { errors: Array<{ field: string; messages: string[] }> }>, V extends object>(document: TypedDocumentString<R, V>, variables: V) => Promise<R[keyof R]>;

/** Creates an instance for Deploy Instance…: the customer, the name, then the config variables without a value. */
async function createInstance(ctx: Ctx, mutate: Mutate, given?: NewInstance): Promise<string | undefined> {
  const api = await ctx.api();
  const { integrations } = await api.request(IntegrationTree, {});
  const integration = integrations.nodes[0];
  if (!integration) throw new Error("there is no integration to deploy (is its build failing?)");
  const { customers } = await api.request(CustomerTree, {});
  let customerName = given?.customerName;
  if (!customerName) {
    const picked = await vscode.window.showQuickPick([{ label: "$(add) New customer…", id: null as string | null }, ...customers.nodes.map((c) => ({ label: c.name, id: c.id as string | null }))], { placeHolder: "Deploy for which customer?" });
    if (!picked) return undefined;
    customerName = picked.id ? picked.label : await vscode.window.showInputBox({ prompt: "Name of the new customer" });
    if (!customerName) return undefined;
  }
  const customerId = customers.nodes.find((c) => c.name === customerName)?.id ?? (await mutate(CreateCustomer, { name: customerName })).customer!.id;
  const instanceName = given?.instanceName ?? (await vscode.window.showInputBox({ prompt: "Name of the instance", value: `${integration.name} for ${customerName}` }));
  if (!instanceName) return undefined;
  const { instance } = await mutate(CreateInstance, { customer: customerId, integration: integration.id, name: instanceName });
  const values: Array<{ key: string; value: string }> = [];
  for (const v of instance!.configVariables.nodes) {
    if (v.value) continue;
    const key = v.requiredConfigVariable.key;
    const value = given ? given.configValues?.[key] : await vscode.window.showInputBox({ prompt: `${key} (${v.requiredConfigVariable.dataType.toLowerCase()})`, password: v.requiredConfigVariable.dataType === "CREDENTIAL", ignoreFocusOut: true });
    if (value === undefined) return undefined;
    values.push({ key, value });
  }
  if (values.length) await mutate(SetConfigVariables, { id: instance!.id, configVariables: values });
  return instance!.id;
}

/** One more criterion for the Executions view, picked from the palette. */
async function pickFilter(ctx: Ctx): Promise<{ filter: ExecutionFilter; label: string; clear?: boolean } | undefined> {
  const kind = await vscode.window.showQuickPick(["Status…", "Flow…", "Instance…", "Customer…", "Invoke type…", "Started in the last…", "Clear filters"], { placeHolder: "Show only the executions whose…" });
  const pick = async <T>(items: Array<{ label: string; value: T }>, placeHolder: string) => (await vscode.window.showQuickPick(items, { placeHolder })) ?? undefined;
  const api = await ctx.api();
  switch (kind) {
    case "Status…": {
      const p = await pick(["QUEUED", "PENDING", "SUCCESS", "ERROR", "CANCELED"].map((s) => ({ label: s, value: s as ExecutionStatus })), "Status");
      return p && { filter: { status: p.value }, label: p.label.toLowerCase() };
    }
    case "Flow…": {
      const { integrations } = await api.request(IntegrationTree, {});
      const p = await pick((integrations.nodes[0]?.flows.nodes ?? []).map((f) => ({ label: f.name, value: f.id })), "Flow");
      return p && { filter: { flow: p.value }, label: p.label };
    }
    case "Instance…":
    case "Customer…": {
      const { instances } = await api.request(IntegrationTree, {});
      const items = kind === "Instance…" ? instances.nodes.map((i) => ({ label: i.name, value: i.id })) : [...new Map(instances.nodes.map((i) => [i.customer.id, { label: i.customer.name, value: i.customer.id }])).values()];
      const p = await pick(items, kind === "Instance…" ? "Instance" : "Customer");
      return p && { filter: kind === "Instance…" ? { instance: p.value } : { customer: p.value }, label: p.label };
    }
    case "Invoke type…": {
      const p = await pick(["WEBHOOK", "SCHEDULED", "CROSS_FLOW", "INTEGRATION_FLOW_TEST", "DEPLOY_FLOW", "TEAR_DOWN_FLOW"].map((t) => ({ label: t, value: t })), "Invoke type");
      return p && { filter: { invokeTypes: [p.value] }, label: p.label.toLowerCase() };
    }
    case "Started in the last…": {
      const p = await pick([["15 minutes", 15], ["hour", 60], ["24 hours", 1440], ["7 days", 10_080]].map(([label, minutes]) => ({ label: label as string, value: minutes as number })), "Started in the last");
      return p && { filter: { since: new Date(Date.now() - p.value * 60_000).toISOString() }, label: `last ${p.label}` };
    }
    case "Clear filters":
      return { filter: {}, label: "", clear: true };
    default:
      return undefined;
  }
}

/** An instance other than the system instance, picked from the palette. */
async function pickInstance(ctx: Ctx): Promise<{ id: string; name: string } | undefined> {
  const { instances } = await (await ctx.api()).request(IntegrationTree, {});
  const items = instances.nodes.filter((i) => !i.isSystem).map((i) => ({ label: i.name, description: i.customer.name, id: i.id }));
  if (!items.length) throw new Error("there are no instances to remove (the system instance cannot be removed)");
  const picked = await vscode.window.showQuickPick(items, { placeHolder: "Remove which instance?" });
  return picked && { id: picked.id, name: picked.label };
}

/** All failed executions, or those of one flow. */
async function pickReplayScope(ctx: Ctx): Promise<{ flowId: string | null } | undefined> {
  const { integrations } = await (await ctx.api()).request(IntegrationTree, {});
  const flows = integrations.nodes[0]?.flows.nodes ?? [];
  const picked = await vscode.window.showQuickPick([{ label: "All flows", flowId: null as string | null }, ...flows.map((f) => ({ label: f.name, flowId: f.id as string | null }))], { placeHolder: "Replay the failed executions of…" });
  return picked && { flowId: picked.flowId };
}

/** A flow of the system instance: the one named, or one picked from the palette. */
async function pickFlow(ctx: Ctx, name?: string): Promise<FlowNode | undefined> {
  const api = await ctx.api();
  const { instances } = await api.request(IntegrationTree, {});
  const system = instances.nodes.find((i) => i.isSystem);
  if (!system) throw new Error("the integration has no system instance yet (is its build failing?)");
  const flowConfigs = system.flowConfigs.nodes;
  if (name) {
    const flowConfig = flowConfigs.find((fc) => fc.flow.name === name);
    if (!flowConfig) throw new Error(`the integration has no flow named "${name}" (is its build up to date?)`);
    return { kind: "flow", instance: system, flowConfig };
  }
  const picked = await vscode.window.showQuickPick(
    flowConfigs.map((flowConfig) => ({ label: flowConfig.flow.name, description: flowConfig.flow.triggerKind, flowConfig })),
    { placeHolder: "Trigger which flow (on the system instance)?" },
  );
  return picked && { kind: "flow", instance: system, flowConfig: picked.flowConfig };
}

/** The saved payloads of a flow (`.spectral/flows/<stableKey>/payloads/*.json`), or an empty one. */
async function pickPayload(flow: FlowNode): Promise<Payload | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const dir = folder && flow.flowConfig.flow.stableKey ? path.join(folder, ".spectral", "flows", flow.flowConfig.flow.stableKey, "payloads") : null;
  const files = dir && fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
  const picked = await vscode.window.showQuickPick([{ label: "Empty payload", file: null as string | null }, ...files.map((f) => ({ label: f, file: path.join(dir!, f) }))], { placeHolder: `Trigger ${flow.flowConfig.flow.name} with which payload?` });
  if (!picked) return undefined;
  return picked.file ? readPayload(picked.file) : { data: {} };
}

/** A payload file: Prismatic's extension's `{headers, data, contentType}`, or prism's `flows:listen` `{payload, contentType, headers}`. */
export function readPayload(file: string): Payload {
  let parsed: any;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`the payload file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object") throw new Error(`the payload file ${file} does not hold an object`);
  return { data: parsed.data ?? parsed.payload ?? {}, contentType: parsed.contentType, headers: parsed.headers };
}

function logScopeOf(node: ExecutionItem | InstanceNode | CustomerNode | LogScope): LogScope {
  if ("execution" in node) return { kind: "execution", id: node.execution.id, label: node.execution.flow?.name ?? undefined };
  if ("instance" in node) return { kind: "instance", id: node.instance.id, label: node.instance.name };
  if ("name" in node && (node.kind === "customer" || node.kind === "instance")) return { kind: node.kind, id: node.id, label: node.name };
  return node as LogScope;
}

async function pickLogScope(ctx: Ctx): Promise<LogScope | undefined> {
  const api = await ctx.api();
  const [{ instances, integrations }, { customers }] = await Promise.all([api.request(IntegrationTree, {}), api.request(CustomerTree, {})]);
  const system = instances.nodes.find((i) => i.isSystem);
  const flows = system?.flowConfigs.nodes ?? [];
  type Item = vscode.QuickPickItem & { scope?: LogScope };
  const items: Item[] = [
    { label: "$(globe) All instances", scope: { kind: "all" } },
    { label: "Customers", kind: vscode.QuickPickItemKind.Separator },
    ...customers.nodes.map((c) => ({ label: `$(organization) ${c.name}`, scope: { kind: "customer" as const, id: c.id, label: c.name } })),
    { label: "Instances", kind: vscode.QuickPickItemKind.Separator },
    ...instances.nodes.map((i) => ({ label: `$(server-environment) ${i.name}`, description: i.customer.name, scope: { kind: "instance" as const, id: i.id, label: i.name } })),
    { label: `Flows of ${integrations.nodes[0]?.name ?? "the integration"}`, kind: vscode.QuickPickItemKind.Separator },
    ...flows.map((f) => ({ label: `$(symbol-event) ${f.flow.name}`, scope: { kind: "flow" as const, id: f.flow.id, label: f.flow.name } })),
  ];
  return (await vscode.window.showQuickPick(items, { placeHolder: "Show the logs of…", matchOnDescription: true }))?.scope;
}

async function pickExecution(ctx: Ctx, placeHolder: string, running = false): Promise<string | undefined> {
  const { executionResults } = await (await ctx.api()).request(RecentExecutions, { first: 50 });
  const items = executionResults.nodes
    .filter((x) => !running || x.endedAt === null)
    .map((x) => ({ label: x.flow?.name ?? "(flow removed)", description: `${x.status} · ${x.startedAt}`, detail: x.id, id: x.id }));
  return (await vscode.window.showQuickPick(items, { placeHolder }))?.id;
}
