import * as vscode from "vscode";

/** What the three views share: a change event for the whole tree, and what to dispose with them. */
export abstract class TreeView<T> implements vscode.TreeDataProvider<T>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<T | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  protected readonly disposables: vscode.Disposable[] = [this.changed];

  abstract getChildren(parent?: T): Promise<T[]>;
  abstract getTreeItem(node: T): vscode.TreeItem;

  /** Reloads the whole tree (the views are small; VS Code keeps what is expanded by item id). */
  refresh(): void {
    this.changed.fire(undefined);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
