import * as vscode from "vscode";
import type { RuntimeInfo } from "../../protocol/lsp";
import { Ctx } from "./ctx";
import { ExecutionsView } from "./views/executions";

/** What the extension exports: for its integration tests, and for other extensions. */
export interface RefractApi {
  /** How long `activate()` took, in ms (it must not wait for the server). */
  activationMs: number;
  /** Resolves once the runtime is up. */
  runtime(): Promise<RuntimeInfo>;
  executions: ExecutionsView;
}

/** Registers everything and returns at once; the server starts in the background. */
export function activate(context: vscode.ExtensionContext): RefractApi {
  const began = performance.now();
  const ctx = new Ctx(context);
  const executions = new ExecutionsView(ctx);
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left);
  status.command = "refract.output.show";
  const showStatus = () => {
    const build = ctx.build;
    status.text = build && !build.ok ? "$(error) Refract: build failed" : "$(pulse) Refract";
    status.tooltip = build?.error ?? "Refract runs this integration locally";
    status.show();
  };
  showStatus();
  context.subscriptions.push(
    ctx,
    executions,
    status,
    ctx.onBuildChanged(showStatus),
    vscode.window.registerTreeDataProvider("refract.executions", executions),
    vscode.commands.registerCommand("refract.output.show", () => ctx.output.show()),
    vscode.commands.registerCommand("refract.executions.loadMore", () => executions.loadMore()),
    vscode.commands.registerCommand("refract.token.copy", async () => {
      const { info } = await ctx.runtime;
      await vscode.env.clipboard.writeText(info.token);
      void vscode.window.showInformationMessage("Refract: API token copied");
    }),
  );
  return { activationMs: performance.now() - began, runtime: async () => (await ctx.runtime).info, executions };
}

export function deactivate(): void {
  // The context's subscriptions stop the language client (and with it the runtime).
}
