import * as vscode from "vscode";
import { ExecutionDetail, ExecutionFilter, ExecutionSummary, RecentExecutions, StepResultSummary } from "../../../protocol/prismatic-api/operations";
import type { Ctx } from "../ctx";
import { TreeView } from "./view";
import { executionItem } from "./items";

const PAGE = 50;

/** An execution's identity and what its item shows. */
export type ExecutionRef = Pick<ExecutionSummary, "id" | "status" | "flow"> & Partial<ExecutionSummary>;

export type ExecutionNode =
  | { kind: "execution"; execution: ExecutionRef; relation?: string }
  | { kind: "step"; execution: ExecutionRef; step: StepResultSummary }
  | { kind: "more" };

/**
 * The Executions view: every execution, newest first, a page at a time ("Load more"); under
 * each, its step results and its lineage (replay of, replays, invoked by, invoked executions,
 * retry of, retries). It reloads when the server announces changes (protocol/lsp.ts): no polling.
 */
export class ExecutionsView extends TreeView<ExecutionNode> {
  private shown = PAGE;
  /** What the view shows: every execution, or those that match. */
  filter: ExecutionFilter = {};
  description = "";

  constructor(private readonly ctx: Ctx) {
    super();
    this.disposables.push(ctx.onExecutionsChanged(() => this.refresh()));
  }

  async getChildren(parent?: ExecutionNode): Promise<ExecutionNode[]> {
    const api = await this.ctx.api();
    if (!parent) {
      const { executionResults } = await api.request(RecentExecutions, { first: this.shown, ...this.filter });
      const items: ExecutionNode[] = executionResults.nodes.map((execution) => ({ kind: "execution", execution }));
      return executionResults.pageInfo.hasNextPage ? [...items, { kind: "more" }] : items;
    }
    if (parent.kind !== "execution") return [];
    const { executionResult: x } = await api.request(ExecutionDetail, { id: parent.execution.id });
    if (!x) return [];
    const linked = (relation: string, list: ExecutionRef[]): ExecutionNode[] => list.map((execution) => ({ kind: "execution", execution, relation }));
    return [
      ...x.stepResults.nodes.map((step): ExecutionNode => ({ kind: "step", execution: parent.execution, step })),
      ...linked("invoked by", x.lineage.invokedBy?.execution ? [x.lineage.invokedBy.execution] : []),
      ...linked("replay of", x.replayForExecution ? [x.replayForExecution] : []),
      ...linked("retry of", x.retryForExecution ? [x.retryForExecution] : []),
      ...linked("invoked", x.invokedExecutions.nodes),
      ...linked("replay", x.replays.nodes),
      ...linked("retry", x.retries.nodes),
    ];
  }

  getTreeItem(node: ExecutionNode): vscode.TreeItem {
    if (node.kind === "more") {
      const more = new vscode.TreeItem("Load more");
      more.command = { command: "refract.executions.loadMore", title: "Load more" };
      return more;
    }
    if (node.kind === "step") {
      const step = new vscode.TreeItem(node.step.displayStepName);
      step.iconPath = new vscode.ThemeIcon(node.step.hasError ? "error" : "symbol-event");
      step.description = `${Date.parse(node.step.endedAt) - Date.parse(node.step.startedAt)} ms`;
      step.command = { command: "refract.step.open", title: "Open Step Result", arguments: [node] };
      step.contextValue = "step";
      return step;
    }
    const item = executionItem(node.execution, node.relation ? `${node.relation}: ` : "");
    if (!node.relation) item.id = node.execution.id;
    return item;
  }

  /** Shows only what matches; `description` says so in the view's title bar. */
  setFilter(filter: ExecutionFilter, description = ""): void {
    this.filter = filter;
    this.description = description;
    this.shown = PAGE;
    this.refresh();
  }

  loadMore(): void {
    this.shown += PAGE;
    this.refresh();
  }
}
