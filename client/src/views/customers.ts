import * as vscode from "vscode";
import { CustomerTree, InstanceExecutions } from "../../../protocol/prismatic-api/operations";
import type { Ctx } from "../ctx";
import { TreeView } from "./view";
import type { ExecutionNode, ExecutionsView } from "./executions";

export type CustomerNode =
  | { kind: "customer"; id: string; name: string; externalId: string | null; instances: Array<{ id: string; name: string }> }
  | { kind: "instance"; id: string; name: string }
  | ExecutionNode;

const RECENT = 10;

/** The Customers view: customers → their instances → their recent executions (shown as in the Executions view). */
export class CustomersView extends TreeView<CustomerNode> {
  constructor(
    private readonly ctx: Ctx,
    private readonly executions: ExecutionsView,
  ) {
    super();
    this.disposables.push(ctx.onExecutionsChanged(() => this.refresh()));
  }

  async getChildren(parent?: CustomerNode): Promise<CustomerNode[]> {
    const api = await this.ctx.api();
    if (!parent) return (await api.request(CustomerTree, {})).customers.nodes.map((c) => ({ kind: "customer", id: c.id, name: c.name, externalId: c.externalId, instances: c.instances.nodes }));
    if (parent.kind === "customer") return parent.instances.map((i) => ({ kind: "instance", ...i }));
    if (parent.kind === "instance") {
      const { instance } = await api.request(InstanceExecutions, { id: parent.id, first: RECENT });
      return (instance?.executionResults.nodes ?? []).map((execution) => ({ kind: "execution", execution }));
    }
    return this.executions.getChildren(parent);
  }

  /** Customers are the top level; `reveal` needs no more. */
  getParent(): CustomerNode | undefined {
    return undefined;
  }

  getTreeItem(node: CustomerNode): vscode.TreeItem {
    if (node.kind === "customer") {
      const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Collapsed);
      item.description = node.externalId ?? undefined;
      item.iconPath = new vscode.ThemeIcon("organization");
      item.contextValue = "customer";
      item.id = node.id;
      return item;
    }
    if (node.kind === "instance") {
      const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Collapsed);
      item.iconPath = new vscode.ThemeIcon("server-environment");
      return item;
    }
    const item = this.executions.getTreeItem(node);
    item.id = undefined; // an execution may show in several places
    return item;
  }
}
