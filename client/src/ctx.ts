import { GraphQLClient } from "graphql-request";
import * as vscode from "vscode";
import { fork, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { CloseAction, ErrorAction, ErrorHandler, IPCMessageReader, IPCMessageWriter, LanguageClient, LanguageClientOptions, ServerOptions, State } from "vscode-languageclient/node";
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
  /** The server process of the current connection. */
  private server: ChildProcess | null = null;

  constructor(extension: vscode.ExtensionContext) {
    // The server runs over node IPC with no stdio pipes: its messages come as LSP log messages, and
    // a crash closes the connection at once (with pipes, processes it started, such as esbuild's,
    // could hold them open after it died and delay noticing by minutes).
    const module = extension.asAbsolutePath("dist/cli.js");
    const serverOptions: ServerOptions = async () => {
      const child = fork(module, ["--node-ipc"], { execArgv: shebangFlags(module), stdio: ["ignore", "ignore", "ignore", "ipc"] });
      this.server = child;
      return { reader: new IPCMessageReader(child), writer: new IPCMessageWriter(child) };
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: "file", language: "typescript" },
        { scheme: "file", language: "javascript" },
      ],
      // Read at every start, so that Restart Runtime applies changed settings.
      initializationOptions: () => settings(),
      synchronize: { configurationSection: "refract" },
      outputChannel: this.output,
    };
    // A crashed server is restarted (by the client's default handler, within its limits); say so,
    // and reconnect once it is back: nothing stored is lost, the new process reads the same data dir.
    let crashed = false;
    let fallback!: ErrorHandler;
    clientOptions.errorHandler = {
      // Errors writing to a server that died (VS Code keeps asking for CodeLens and the like) must
      // not stop the client: the default shuts it down after three, before `closed` can restart it.
      error: () => ({ action: ErrorAction.Continue, handled: true }),
      closed: async () => {
        const result = await fallback.closed();
        crashed = result.action === CloseAction.Restart;
        this.output.warn(`The server process stopped; ${crashed ? "restarting it" : "not restarting it (it stopped too often)"}`);
        return crashed ? { action: CloseAction.Restart, message: "Refract's server stopped unexpectedly; it is being restarted (nothing stored is lost)." } : result;
      },
    };
    this.client = new LanguageClient("refract", "Refract", serverOptions, clientOptions);
    fallback = this.client.createDefaultErrorHandler(4);
    this.client.onDidChangeState(({ oldState, newState }) => {
      this.output.info(`Language client: ${State[oldState]} → ${State[newState]}`);
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
    // Node loads its fetch (undici, ~60 ms) on first use of the global: here while the server
    // starts rather than on the views' first query, and after activate() returns.
    setImmediate(() => void fetch("data:,").then((r) => r.arrayBuffer()).catch(() => undefined));
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
    this.connected = this.connect(this.stopServer().then(() => this.client.start()));
    await this.connected;
    this.restarted.fire();
  }

  /**
   * Stops the server process. Its runtime finishes running executions first, up to 10 s (the
   * client library's own stop gives up after 2); one that has not exited by 15 s is killed. The
   * next start waits for the exit: until then the process holds the port and the data dir's lock.
   */
  private async stopServer(): Promise<void> {
    const server = this.server;
    const exited = server && server.exitCode === null ? new Promise((resolve) => server.once("exit", resolve)) : Promise.resolve();
    try {
      await this.client.stop(15_000);
    } catch {
      // it did not answer in time: it is killed below
    }
    if (server?.exitCode === null) {
      const timer = setTimeout(() => server.kill(), 2_000);
      await exited;
      clearTimeout(timer);
    }
  }

  dispose(): void {
    void this.stopServer();
    this.executionsChanged.dispose();
    this.restarted.dispose();
    this.buildChanged.dispose();
    this.output.dispose();
  }
}

/**
 * The Node flags of the bin's shebang (esbuild.mjs: one V8 helper thread, the main thread's heap
 * sizes), for the server to run as `refract serve` does: fork() starts Node itself, which does not
 * read the shebang, and would pass the extension host's own flags instead.
 */
export function shebangFlags(file: string): string[] {
  const head = Buffer.alloc(512);
  const fd = fs.openSync(file, "r");
  try {
    const line = head.toString("utf8", 0, fs.readSync(fd, head, 0, head.length, 0)).split("\n")[0];
    return line.startsWith("#!") ? line.split(" ").filter((word) => word.startsWith("--")) : [];
  } finally {
    fs.closeSync(fd);
  }
}
