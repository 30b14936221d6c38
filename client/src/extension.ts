import * as vscode from "vscode";
import type { RuntimeInfo } from "../../protocol/lsp";
import { registerCommands } from "./commands";
import { Ctx } from "./ctx";
import { ExecutionDocuments } from "./documents";
import { Panels } from "./panels/panels";
import { CustomersView } from "./views/customers";
import { ExecutionsView } from "./views/executions";
import { InstancesView } from "./views/instances";

/** What the extension exports: for its integration tests, and for other extensions. */
export interface RefractApi {
  /** How long `activate()` took, in ms (it must not wait for the server). */
  activationMs: number;
  /** Resolves once the runtime is up. */
  runtime(): Promise<RuntimeInfo>;
  instances: InstancesView;
  customers: CustomersView;
  executions: ExecutionsView;
  panels: Panels;
}

/** Registers everything and returns at once; the server starts in the background. */
export function activate(context: vscode.ExtensionContext): RefractApi {
  const began = performance.now();
  const ctx = new Ctx(context);
  const executions = new ExecutionsView(ctx);
  const views = { instances: new InstancesView(ctx), customers: new CustomersView(ctx, executions), executions };
  const executionsTree = vscode.window.createTreeView("refract.executions", { treeDataProvider: executions });
  const instancesTree = vscode.window.createTreeView("refract.instances", { treeDataProvider: views.instances });
  const customersTree = vscode.window.createTreeView("refract.customers", { treeDataProvider: views.customers });
  // The execution panel's instance and customer links show them in their trees.
  const panels = new Panels(ctx, context, async (kind, id) => {
    if (kind === "instance") {
      const node = await views.instances.instanceNode(id);
      if (node) await instancesTree.reveal(node, { select: true, focus: true, expand: true });
    } else {
      const node = (await views.customers.getChildren()).find((n) => n.kind === "customer" && n.id === id);
      if (node) await customersTree.reveal(node, { select: true, focus: true, expand: true });
      else void vscode.window.showInformationMessage("Refract: that is the system customer, which the Customers view does not list");
    }
  });
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left);
  status.command = "refract.output.show";
  const showStatus = () => {
    const build = ctx.build;
    // `refract.integration` picks the Instances view's welcome text: starting, missing (never built), broken or ok.
    const state = !build ? "starting" : build.ok ? "ok" : build.versionNumber === 0 ? "missing" : "broken";
    void vscode.commands.executeCommand("setContext", "refract.integration", state);
    status.text = state === "missing" ? "$(circle-slash) Refract: no integration" : state === "broken" ? "$(error) Refract: build failed" : "$(pulse) Refract";
    status.tooltip = build?.error ?? "Refract runs this integration locally";
    status.show();
  };
  showStatus();
  context.subscriptions.push(
    ctx,
    status,
    ...Object.values(views),
    ctx.onBuildChanged(showStatus),
    ctx.onRestarted(() => Object.values(views).forEach((view) => view.refresh())),
    instancesTree,
    customersTree,
    executionsTree,
    panels,
    executionsTree.onDidChangeVisibility(() => (executionsTree.description = executions.description || undefined)),
    executions.onDidChangeTreeData(() => (executionsTree.description = executions.description || undefined)),
    vscode.workspace.registerTextDocumentContentProvider(ExecutionDocuments.scheme, new ExecutionDocuments(ctx)),
    ...registerCommands(ctx, views, panels),
  );
  return { activationMs: performance.now() - began, runtime: () => ctx.runtime(), ...views, panels };
}

export function deactivate(): void {
  // The context's subscriptions stop the language client (and with it the runtime).
}
