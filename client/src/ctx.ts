import { GraphQLClient } from "graphql-request";
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";
import { BuildState, BuildStateNotification, ExecutionChange, ExecutionsChangedNotification, RuntimeInfo, RuntimeInfoRequest } from "../../protocol/lsp";
import { settings } from "./config";

/**
 * What the extension's parts share: the language client (the server process hosting the
 * runtime), the GraphQL client for data, and the server's pushed events.
 */
export class Ctx implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel("Refract", { log: true });
  readonly client: LanguageClient;
  /** Resolves once the runtime is up; every data call waits for it. */
  readonly runtime: Promise<{ info: RuntimeInfo; api: GraphQLClient }>;
  private readonly executionsChanged = new vscode.EventEmitter<ExecutionChange[]>();
  readonly onExecutionsChanged = this.executionsChanged.event;
  private readonly buildChanged = new vscode.EventEmitter<BuildState>();
  readonly onBuildChanged = this.buildChanged.event;
  build: BuildState | null = null;

  constructor(extension: vscode.ExtensionContext) {
    const module = extension.asAbsolutePath("dist/cli.js");
    const serverOptions: ServerOptions = { run: { module, transport: TransportKind.ipc }, debug: { module, transport: TransportKind.ipc } };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: "file", language: "typescript" },
        { scheme: "file", language: "javascript" },
      ],
      initializationOptions: settings(),
      synchronize: { configurationSection: "refract" },
      outputChannel: this.output,
    };
    this.client = new LanguageClient("refract", "Refract", serverOptions, clientOptions);
    this.client.onNotification(ExecutionsChangedNotification, ({ changes }) => this.executionsChanged.fire(changes));
    this.client.onNotification(BuildStateNotification, (build) => {
      this.build = build;
      this.buildChanged.fire(build);
    });
    // Started in the background: activation does not wait for the runtime.
    this.runtime = this.client.start().then(async () => {
      const info = await this.client.sendRequest(RuntimeInfoRequest);
      return { info, api: new GraphQLClient(info.apiUrl, { headers: { authorization: `Bearer ${info.token}` } }) };
    });
    this.runtime.catch((err) => this.output.appendLine(`Refract could not start: ${(err as Error).message}`));
  }

  dispose(): void {
    void this.client.stop();
    this.executionsChanged.dispose();
    this.buildChanged.dispose();
    this.output.dispose();
  }
}
