import * as vscode from "vscode";
import { ExecutionStatus, ExecutionSummary, RecentExecutions } from "../../../protocol/prismatic-api/operations";
import type { Ctx } from "../ctx";

const PAGE = 50;

type Item = { kind: "execution"; execution: ExecutionSummary } | { kind: "more" };

const ICONS: Record<ExecutionStatus, vscode.ThemeIcon> = {
  QUEUED: new vscode.ThemeIcon("clock"),
  PENDING: new vscode.ThemeIcon("loading~spin"),
  SUCCESS: new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed")),
  ERROR: new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed")),
  CANCELED: new vscode.ThemeIcon("circle-slash"),
};

/**
 * The Executions view: every execution, newest first, a page at a time ("Load more"). It reloads
 * what it shows when the server announces changes (protocol/lsp.ts), so it needs no polling.
 */
export class ExecutionsView implements vscode.TreeDataProvider<Item>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Item | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private shown = PAGE;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly ctx: Ctx) {
    this.subscription = ctx.onExecutionsChanged(() => this.changed.fire(undefined));
  }

  async getChildren(parent?: Item): Promise<Item[]> {
    if (parent) return [];
    const { api } = await this.ctx.runtime;
    const { executionResults } = await api.request(RecentExecutions, { first: this.shown });
    const items: Item[] = executionResults.nodes.map((execution) => ({ kind: "execution", execution }));
    return executionResults.pageInfo.hasNextPage ? [...items, { kind: "more" }] : items;
  }

  getTreeItem(item: Item): vscode.TreeItem {
    if (item.kind === "more") {
      const more = new vscode.TreeItem("Load more");
      more.command = { command: "refract.executions.loadMore", title: "Load more" };
      return more;
    }
    const x = item.execution;
    const tree = new vscode.TreeItem(x.flow?.name ?? "(flow removed)");
    tree.id = x.id;
    tree.iconPath = ICONS[x.status];
    const duration = x.endedAt ? `${Date.parse(x.endedAt) - Date.parse(x.startedAt)} ms` : x.status.toLowerCase();
    tree.description = `${duration} · ${relative(Date.parse(x.startedAt))} · ${x.invokeType}`;
    tree.tooltip = `${x.status}${x.error ? `: ${x.error}` : ""}\n${x.instance?.name ?? ""}\n${x.startedAt}\n${x.id}`;
    tree.contextValue = `execution.${x.status}`;
    return tree;
  }

  loadMore(): void {
    this.shown += PAGE;
    this.changed.fire(undefined);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

function relative(at: number): string {
  const s = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}
