import { randomBytes } from "node:crypto";
import { ClientError } from "graphql-request";
import * as vscode from "vscode";
import { StepOf } from "../../../protocol/prismatic-api/operations";
import { HostMessage, HostRequest, View, WebviewMessage, pageHtml } from "../../../protocol/webview";
import type { Ctx } from "../ctx";
import { ExecutionDocuments } from "../documents";

/** Where the extension keeps each kind of panel's last state, so it outlives the panel. */
const STATE_KEY = "refract.panelState";

/**
 * The webview panels: one per execution and one per log scope (opening it again focuses it). Each
 * loads the UI bundle (dist/webview/) under a CSP that allows only that bundle's script by its
 * nonce, and answers its bridge (protocol/webview.ts): GraphQL and blobs through this extension's
 * connection to the runtime, since a webview's own requests would come from a foreign origin.
 */
export class Panels implements vscode.Disposable {
  private readonly open = new Map<string, vscode.WebviewPanel>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly ctx: Ctx,
    private readonly extension: vscode.ExtensionContext,
    private readonly reveal: (kind: "instance" | "customer", id: string) => Promise<void>,
  ) {
    this.disposables.push(ctx.onExecutionsChanged((changes) => this.post({ type: "executions", changes })));
  }

  /** Opens the panel for a view, or brings its open one forward. */
  show(view: View): vscode.WebviewPanel {
    const key = JSON.stringify(view.kind === "logs" ? { kind: "logs", scope: view.scope.kind, id: view.scope.id } : view);
    const existing = this.open.get(key);
    if (existing) {
      existing.reveal();
      return existing;
    }
    const root = vscode.Uri.joinPath(this.extension.extensionUri, "dist", "webview");
    const panel = vscode.window.createWebviewPanel("refract.panel", title(view), vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [root],
    });
    panel.iconPath = vscode.Uri.joinPath(this.extension.extensionUri, "media", "refract.svg");
    const webview = panel.webview;
    webview.onDidReceiveMessage((message: WebviewMessage) => this.receive(panel, view, message));
    webview.html = pageHtml({
      nonce: randomBytes(16).toString("base64"),
      source: webview.cspSource,
      connect: "'none'",
      script: webview.asWebviewUri(vscode.Uri.joinPath(root, "webview.js")).toString(),
      style: webview.asWebviewUri(vscode.Uri.joinPath(root, "webview.css")).toString(),
      host: "vscode",
    });
    this.open.set(key, panel);
    panel.onDidDispose(() => this.open.delete(key));
    return panel;
  }

  private async receive(panel: vscode.WebviewPanel, view: View, message: WebviewMessage): Promise<void> {
    const send = (m: HostMessage) => void panel.webview.postMessage(m);
    switch (message.type) {
      case "ready":
        return send({ type: "show", view, state: this.extension.workspaceState.get<Record<string, unknown>>(STATE_KEY) });
      case "request":
        try {
          send({ type: "response", seq: message.seq, ok: true, data: await this.answer(message.request) });
        } catch (err) {
          send({ type: "response", seq: message.seq, ok: false, error: errorMessage(err) });
        }
        return;
      case "open":
        this.show(message.view);
        return;
      case "title":
        panel.title = message.title;
        return;
      case "copy":
        await vscode.env.clipboard.writeText(message.text);
        void vscode.window.setStatusBarMessage("$(copy) Copied", 2000);
        return;
      case "reveal":
        return this.reveal(message.kind, message.id);
      case "openDocument": {
        const uri = message.kind === "logs" ? ExecutionDocuments.logsUri(message.id) : await this.stepUri(message.id);
        await vscode.window.showTextDocument(uri, { preview: true, viewColumn: vscode.ViewColumn.Beside });
        return;
      }
      case "state": {
        const states = this.extension.workspaceState.get<Record<string, unknown>>(STATE_KEY) ?? {};
        await this.extension.workspaceState.update(STATE_KEY, { ...states, [message.key]: message.state });
        return;
      }
      default:
        ((m: never) => this.ctx.output.warn(`Unknown webview message ${JSON.stringify(m)}`))(message);
    }
  }

  private async answer(request: HostRequest): Promise<unknown> {
    if (request.kind === "graphql") return (await this.ctx.api()).request(request.query, request.variables);
    // Only this runtime's own blob URLs: a webview cannot make the extension fetch elsewhere.
    const { apiUrl } = await this.ctx.runtime();
    if (new URL(request.url).origin !== new URL(apiUrl).origin) throw new Error(`Not a URL of this runtime: ${request.url}`);
    const response = await fetch(request.url);
    if (!response.ok) throw new Error(`HTTP ${response.status} fetching ${request.url}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** A step result's document URI, from its id (the webview knows steps by id). */
  private async stepUri(stepId: string): Promise<vscode.Uri> {
    const { stepResult } = await (await this.ctx.api()).request(StepOf, { id: stepId });
    if (!stepResult) throw new Error("That step result is gone");
    return ExecutionDocuments.stepUri(stepResult.executionResult.id, stepResult.stepName);
  }

  private post(message: HostMessage): void {
    for (const panel of this.open.values()) void panel.webview.postMessage(message);
  }

  dispose(): void {
    for (const panel of this.open.values()) panel.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

function title(view: View): string {
  if (view.kind === "execution") return "Execution";
  if (view.kind === "logs") return view.scope.kind === "all" ? "Logs" : `Logs: ${view.scope.label ?? view.scope.kind}`;
  return "Executions";
}

function errorMessage(err: unknown): string {
  if (err instanceof ClientError) return err.response.errors?.map((e) => e.message).join("; ") ?? `HTTP ${err.response.status}`;
  return (err as Error).message;
}
