import { GraphQLClient } from "graphql-request";
import * as vscode from "vscode";
import { CloseAction, ErrorHandler, LanguageClient, LanguageClientOptions, ServerOptions, State, TransportKind } from "vscode-languageclient/node";
import { BuildState, BuildStateNotification, ExecutionChange, ExecutionsChangedNotification, RuntimeInfo, RuntimeInfoRequest } from "../../protocol/lsp";
import { settings } from "./config";

/**
 * What the extension's parts share: the language client (the server process hosting the
 * runtime), the GraphQL client for data, and the server's pushed events.
 */
export class Ctx implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel("Refract", { log: true });
  readonly client: LanguageClient;
  /** Resolves once the runtime is up; every data call waits for it. A restart replaces it. */
  private connected: Promise<{ info: RuntimeInfo; api: GraphQLClient }>;
  private readonly executionsChanged = new vscode.EventEmitter<ExecutionChange[]>();
  readonly onExecutionsChanged = this.executionsChanged.event;
  private readonly restarted = new vscode.EventEmitter<void>();
  /** The server was restarted (after a crash, or by the user): views reload. */
  readonly onRestarted = this.restarted.event;
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
    // A crashed server is restarted (by the client's default handler, within its limits); say so,
    // and reconnect once it is back: nothing stored is lost, the new process reads the same data dir.
    let crashed = false;
    let fallback!: ErrorHandler;
    clientOptions.errorHandler = {
      error: (error, message, count) => fallback.error(error, message, count),
      closed: async () => {
        const result = await fallback.closed();
        crashed = result.action === CloseAction.Restart;
        return crashed ? { action: CloseAction.Restart, message: "Refract's server stopped unexpectedly; it is being restarted (nothing stored is lost)." } : result;
      },
    };
    this.client = new LanguageClient("refract", "Refract", serverOptions, clientOptions);
    fallback = this.client.createDefaultErrorHandler(4);
    this.client.onDidChangeState(({ newState }) => {
      if (newState !== State.Running || !crashed) return;
      crashed = false;
      this.connected = this.connect(Promise.resolve());
      void this.connected.then(() => this.restarted.fire());
    });
    this.client.onNotification(ExecutionsChangedNotification, ({ changes }) => this.executionsChanged.fire(changes));
    this.client.onNotification(BuildStateNotification, (build) => {
      this.build = build;
      this.buildChanged.fire(build);
    });
    // Started in the background: activation does not wait for the runtime.
    this.connected = this.connect(this.client.start());
  }

  private connect(started: Promise<void>): Promise<{ info: RuntimeInfo; api: GraphQLClient }> {
    const connected = started.then(async () => {
      const info = await this.client.sendRequest(RuntimeInfoRequest);
      return { info, api: new GraphQLClient(info.apiUrl, { headers: { authorization: `Bearer ${info.token}` } }) };
    });
    connected.catch((err) => this.output.error(`Refract could not start: ${(err as Error).message}`));
    return connected;
  }

  /** Where the runtime answers, once it is up. */
  async runtime(): Promise<RuntimeInfo> {
    return (await this.connected).info;
  }

  /** The GraphQL client for the runtime's API, once it is up. */
  async api(): Promise<GraphQLClient> {
    return (await this.connected).api;
  }

  /** Restarts the server process (and with it the runtime), for settings read at start-up. */
  async restart(): Promise<void> {
    this.connected = this.connect(this.client.restart());
    await this.connected;
    this.restarted.fire();
  }

  dispose(): void {
    void this.client.stop();
    this.executionsChanged.dispose();
    this.restarted.dispose();
    this.buildChanged.dispose();
    this.output.dispose();
  }
}
