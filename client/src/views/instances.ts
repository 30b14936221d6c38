import * as vscode from "vscode";
import { FlowConfigSummary, InstanceSummary, IntegrationTree } from "../../../protocol/prismatic-api/operations";
import type { Ctx } from "../ctx";
import { TreeView } from "./view";
import { relative } from "./items";

export type InstanceNode =
  | { kind: "integration"; id: string; name: string; versionNumber: number; instances: InstanceSummary[] }
  | { kind: "instance"; instance: InstanceSummary }
  | { kind: "flow"; instance: InstanceSummary; flowConfig: FlowConfigSummary };

const TRIGGER_ICONS: Record<FlowConfigSummary["flow"]["triggerKind"], string> = {
  WEBHOOK: "globe",
  SCHEDULE: "watch",
  INSTANCE_DEPLOY: "rocket",
  INSTANCE_REMOVE: "trash",
};

/** The Instances view: the integration (with its build state) → its instances, the system instance first → their flows and triggers. */
export class InstancesView extends TreeView<InstanceNode> {
  constructor(private readonly ctx: Ctx) {
    super();
    this.disposables.push(ctx.onBuildChanged(() => this.refresh()));
  }

  /** The top level as last shown, for getParent. */
  private roots: InstanceNode[] = [];

  async getChildren(parent?: InstanceNode): Promise<InstanceNode[]> {
    if (!parent) {
      const { integrations, instances } = await (await this.ctx.api()).request(IntegrationTree, {});
      const ordered = [...instances.nodes].sort((a, b) => Number(b.isSystem) - Number(a.isSystem));
      return (this.roots = integrations.nodes.map((i) => ({ kind: "integration", id: i.id, name: i.name, versionNumber: i.versionNumber, instances: ordered })));
    }
    if (parent.kind === "integration") return parent.instances.map((instance) => ({ kind: "instance", instance }));
    if (parent.kind === "instance") return parent.instance.flowConfigs.nodes.map((flowConfig) => ({ kind: "flow", instance: parent.instance, flowConfig }));
    return [];
  }

  /** VS Code's `reveal` walks up with this. */
  getParent(node: InstanceNode): InstanceNode | undefined {
    if (node.kind === "integration") return undefined;
    if (node.kind === "instance") return this.roots[0];
    return { kind: "instance", instance: node.instance };
  }

  /** An instance's node, to reveal it. */
  async instanceNode(id: string): Promise<InstanceNode | undefined> {
    const [integration] = await this.getChildren();
    return integration && (await this.getChildren(integration)).find((n) => n.kind === "instance" && n.instance.id === id);
  }

  getTreeItem(node: InstanceNode): vscode.TreeItem {
    const expanded = vscode.TreeItemCollapsibleState.Expanded;
    if (node.kind === "integration") {
      const build = this.ctx.build;
      const item = new vscode.TreeItem(node.name, expanded);
      item.description = build && !build.ok ? `version ${node.versionNumber} · build failed` : `version ${node.versionNumber}`;
      item.tooltip = build?.error ?? undefined;
      item.iconPath = new vscode.ThemeIcon(build && !build.ok ? "warning" : "package");
      item.contextValue = "integration";
      item.id = node.id;
      return item;
    }
    if (node.kind === "instance") {
      const i = node.instance;
      const item = new vscode.TreeItem(i.name, i.isSystem ? expanded : vscode.TreeItemCollapsibleState.Collapsed);
      const state = !i.enabled ? "disabled" : i.needsDeploy ? "not deployed" : "";
      item.description = [i.isSystem ? "system instance" : i.customer.name, state].filter(Boolean).join(" · ");
      item.iconPath = new vscode.ThemeIcon(i.isSystem ? "beaker" : "server-environment");
      item.contextValue = `instance.${i.isSystem ? "system" : i.enabled ? "enabled" : "disabled"}`;
      item.id = i.id;
      return item;
    }
    const { flow, webhookUrl, schedule } = node.flowConfig;
    const item = new vscode.TreeItem(flow.name);
    const next = schedule?.nextRunsAt[0];
    item.description = schedule ? `${schedule.cron}${next ? ` · next ${relative(Date.parse(next))}` : ""}` : flow.triggerKind.toLowerCase().replace("_", " ");
    item.tooltip = `${flow.triggerKind}\n${webhookUrl}`;
    item.iconPath = new vscode.ThemeIcon(TRIGGER_ICONS[flow.triggerKind]);
    item.contextValue = "flow";
    item.id = node.flowConfig.id;
    return item;
  }
}
