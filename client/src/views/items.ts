import * as vscode from "vscode";
import type { ExecutionStatus } from "../../../protocol/prismatic-api/operations";

export const STATUS_ICONS: Record<ExecutionStatus, vscode.ThemeIcon> = {
  QUEUED: new vscode.ThemeIcon("clock"),
  PENDING: new vscode.ThemeIcon("loading~spin"),
  SUCCESS: new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed")),
  ERROR: new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed")),
  CANCELED: new vscode.ThemeIcon("circle-slash"),
};

/** An execution as every view shows it: flow, status icon, duration, relative time, invoke type. */
export function executionItem(x: { id: string; status: ExecutionStatus; invokeType?: string; startedAt?: string; endedAt?: string | null; error?: string | null; flow: { name: string } | null }, prefix = ""): vscode.TreeItem {
  const tree = new vscode.TreeItem(`${prefix}${x.flow?.name ?? "(flow removed)"}`, vscode.TreeItemCollapsibleState.Collapsed);
  tree.iconPath = STATUS_ICONS[x.status];
  if (x.startedAt) {
    const duration = x.endedAt ? `${Date.parse(x.endedAt) - Date.parse(x.startedAt)} ms` : x.status.toLowerCase();
    tree.description = `${duration} · ${relative(Date.parse(x.startedAt))} · ${x.invokeType}`;
  } else {
    tree.description = x.status.toLowerCase();
  }
  tree.tooltip = `${x.status}${x.error ? `: ${x.error}` : ""}\n${x.id}`;
  tree.command = { command: "refract.execution.open", title: "Open Execution", arguments: [{ id: x.id }] };
  tree.contextValue = x.status === "QUEUED" || x.status === "PENDING" ? "execution.running" : "execution.ended";
  return tree;
}

/** "5 min ago", or "in 5 min" for a time to come. */
export function relative(at: number): string {
  const ms = Date.now() - at;
  const s = Math.round(Math.abs(ms) / 1000);
  const span = s < 60 ? `${s} s` : s < 3600 ? `${Math.round(s / 60)} min` : s < 86_400 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86_400)} d`;
  return ms >= 0 ? `${span} ago` : `in ${span}`;
}
