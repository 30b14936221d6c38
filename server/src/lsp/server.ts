import { isIP } from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  CodeLensRefreshRequest,
  ErrorCodes,
  IPCMessageReader,
  IPCMessageWriter,
  Message,
  MessageReader,
  NotificationMessage,
  ProposedFeatures,
  ResponseError,
  TextDocumentSyncKind,
  TextDocuments,
  createConnection,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { BuildStateNotification, ExecutionsChangedNotification, RuntimeInfo, RuntimeInfoRequest, Settings } from "../../../protocol/lsp";
import type { BuildState } from "../runtime/runtime";
import { watchExecutions } from "../runtime/changes";
import { DEFAULT_ENTRY } from "../runtime/loader";
import { SERVE_DEFAULTS, SERVE_LIMITS, ServeError, Served, ServeOptions, serve } from "../serve";
import { Live, editorFeatures } from "./features";

/**
 * The language server (started by the extension over node IPC): it hosts the same runtime, HTTP
 * listener and API as `refract serve`, for the workspace folder the client opens, and pushes
 * execution changes and build states to the client (protocol/lsp.ts).
 */
export function startLanguageServer(): void {
  // Node IPC is how the extension starts it; other transports (--stdio, --socket, --pipe) as the
  // library sets them up. Only the IPC reader needs withoutMalformedCancels: stream readers catch
  // what the connection throws on such a cancel and report it as a read error.
  const ipc = process.argv.includes("--node-ipc");
  const connection = ipc
    ? createConnection(ProposedFeatures.all, withoutMalformedCancels(new IPCMessageReader(process)), new IPCMessageWriter(process))
    : createConnection(ProposedFeatures.all);
  // The client gives this process no stdio: what the runtime and its workers write to stderr goes
  // to the client as log messages.
  process.stderr.write = ((chunk: string | Uint8Array) => {
    try {
      connection.console.warn(String(chunk).trimEnd());
    } catch {
      // the connection is gone: there is no one to tell
    }
    return true;
  }) as typeof process.stderr.write;
  const documents = new TextDocuments(TextDocument);
  let starting: Promise<Served> | null = null;
  let served: Served | null = null;
  let features: ReturnType<typeof editorFeatures> | null = null;
  let applied: Settings = {};
  let workspace = "";
  // The settings problems last shown: the client sends the settings again at once after
  // `initialize`, and at every change; a problem is shown once until it is fixed.
  let reported = new Set<string>();
  const report = (problems: string[]) => {
    for (const problem of problems) if (!reported.has(problem)) void connection.window.showErrorMessage(`Refract: ${problem}; using the default`);
    reported = new Set(problems);
  };
  // LSP: once `shutdown` has come, every request but `exit` gets InvalidRequest.
  let shutDown = false;
  const live: Live = (handler) => (...args) => {
    if (shutDown) throw new ResponseError(ErrorCodes.InvalidRequest, "Refract's language server has shut down");
    return handler(...args);
  };

  connection.onInitialize((params) => {
    // One runtime per server: a second one would write the same data dir.
    if (starting) throw new Error("Refract is already initialized");
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri;
    if (!folder?.startsWith("file:")) throw new Error("Refract needs a workspace folder on disk");
    workspace = fileURLToPath(folder);
    const { settings, problems } = checkedSettings(params.initializationOptions);
    report(problems);
    applied = settings;
    features = editorFeatures(connection, documents, workspace, () => served, live);
    const options = serveOptions(workspace, settings);
    const log = (line: string) => connection.console.log(line);
    starting = serve(options, log).catch((err) => {
      // An address that does not resolve or is not this machine's (a network since left) is a
      // wrong setting like the others: the default serves, and the problem is shown.
      if (!(err instanceof ServeError && err.hostFailed)) throw err;
      report([...reported, `refract.host: ${err.message}`]);
      return serve({ ...options, host: SERVE_DEFAULTS.host }, log);
    });
    starting
      .then((up) => {
        // Two windows on two projects: the second runtime gets the next free port, and says so.
        if (settings.port === undefined && up.port !== SERVE_DEFAULTS.port) void connection.window.showInformationMessage(`Refract: port ${SERVE_DEFAULTS.port} is taken (by another window?); this window's runtime uses ${up.port}`);
        follow(up);
      })
      .catch((err) => void connection.window.showErrorMessage(`Refract could not start: ${String((err as Error)?.message).slice(0, 1000)}`));
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        codeLensProvider: {},
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['"', "'", "`"] },
      },
      serverInfo: { name: "refract" },
    };
  });

  connection.onRequest(
    RuntimeInfoRequest,
    live(async (): Promise<RuntimeInfo> => {
      if (!starting) throw new Error("Refract has not been initialized");
      const served = await starting;
      return { apiUrl: `${served.url}/api`, webhookBaseUrl: `${served.url}/trigger`, token: served.token, port: served.port, dataDir: served.runtime.options.dataDir, pid: process.pid };
    }),
  );

  // Every setting is read when the runtime starts: a change says what needs a restart.
  connection.onDidChangeConfiguration(({ settings }) => {
    const { settings: next, problems } = checkedSettings(settings?.refract);
    report(problems);
    // Compared as they take effect: the client sends every setting, defaults included.
    const [before, after] = [effective(workspace, applied), effective(workspace, next)];
    const changed = (Object.keys(before) as Array<keyof Settings>).filter((k) => before[k] !== after[k]);
    if (changed.length) void connection.window.showWarningMessage(`Refract: restart the runtime to apply ${changed.join(", ")}`);
  });

  /** Stops the runtime, once, whichever of `shutdown` and a lost client comes first. */
  let stopping: Promise<void> | null = null;
  const stopRuntime = () => (stopping ??= starting?.then((up) => up.stop()).catch(() => {}) ?? Promise.resolve());
  connection.onShutdown(async () => {
    shutDown = true;
    await stopRuntime();
  });
  // The exit notification itself is the library's: code 0 after a shutdown, 1 without one (LSP).
  // Without one the runtime stops as in a crash: the next start takes over its lock.
  // A client that goes away without either (its extension host crashed or was killed) closes the
  // IPC channel: the library would notice only by polling the pid `initialize` named, if it named
  // one. The runtime stops as at a shutdown (running executions finish), then the process exits.
  if (ipc) process.once("disconnect", () => void stopRuntime().finally(() => process.exit(shutDown ? 0 : 1)));

  /** Forwards the runtime's build states and execution changes to the client. */
  function follow(up: Served): void {
    served = up;
    const { runtime } = up;
    const sendBuild = (b: BuildState) => {
      void connection.sendNotification(BuildStateNotification, { ok: b.ok, error: b.error, versionNumber: b.versionNumber });
      features?.refresh();
    };
    sendBuild(runtime.build);
    runtime.on("build", sendBuild);
    // An execution's end changes its flow's status lens, and may move the last failure's diagnostic.
    let lensRefresh: NodeJS.Timeout | null = null;
    runtime.on("execution", () => {
      features?.refresh();
      lensRefresh ??= setTimeout(() => {
        lensRefresh = null;
        void connection.sendRequest(CodeLensRefreshRequest.type).catch(() => {});
      }, 500);
    });
    watchExecutions(runtime.store, (changes) => void connection.sendNotification(ExecutionsChangedNotification, { changes }));
  }

  documents.listen(connection);
  connection.listen();
}

type NumericSetting = "port" | "retentionDays" | "executionTimeoutS" | "memoryLimitMb" | "maxConcurrency";
const NUMERIC: NumericSetting[] = ["port", "retentionDays", "executionTimeoutS", "memoryLimitMb", "maxConcurrency"];

/** The settings that are valid; each invalid one is left out and named in `problems`. */
export function checkedSettings(raw: unknown): { settings: Settings; problems: string[] } {
  const settings: Settings = {};
  const problems: string[] = [];
  if (raw === undefined || raw === null) return { settings, problems };
  if (typeof raw !== "object" || Array.isArray(raw)) return { settings, problems: ["the settings are not an object"] };
  const given = raw as Record<string, unknown>;
  for (const key of NUMERIC) {
    const value = given[key];
    if (value === undefined || value === null) continue;
    const [min, max] = SERVE_LIMITS[key];
    if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) settings[key] = value;
    else problems.push(`refract.${key} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  for (const key of ["host", "dataDir", "entry"] as const) {
    const value = given[key];
    if (value === undefined || value === null || value === "") continue;
    if (typeof value === "string" && value.trim()) settings[key] = value.trim();
    else problems.push(`refract.${key} must be a non-empty string, not ${JSON.stringify(value)}`);
  }
  if (settings.host !== undefined && !isIP(settings.host) && !HOST_NAME.test(settings.host)) {
    problems.push(`refract.host must be an IP address or a host name, not ${JSON.stringify(settings.host)}`);
    delete settings.host;
  }
  return { settings, problems };
}

/** A DNS name: dot-separated labels of letters, digits and hyphens. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*$/;

/** What each setting amounts to, defaults filled in and paths resolved: two spellings of one value are no change. */
function effective(workspace: string, s: Settings): Required<Settings> {
  const { port, host, dataDir, retentionDays, executionTimeoutS, memoryLimitMb, maxConcurrency } = serveOptions(workspace, s);
  return { port, host, dataDir, retentionDays, executionTimeoutS, memoryLimitMb, maxConcurrency, entry: path.resolve(workspace, s.entry ?? DEFAULT_ENTRY) };
}

function serveOptions(workspace: string, s: Settings): ServeOptions {
  return {
    ...SERVE_DEFAULTS,
    ...s,
    workspace,
    portIsDefault: s.port === undefined,
    dataDir: path.resolve(workspace, s.dataDir ?? ".refract"),
    allowedHosts: [],
    json: false,
    workerScript: path.join(__dirname, "worker.js"),
  };
}

/**
 * The client's messages, less `$/cancelRequest` notifications that name no request: vscode-jsonrpc
 * reads `params.id` of every cancel as it arrives, outside any handler, and a cancel without one
 * threw there and ended the process (and the runtime with it). There is nothing to cancel.
 */
function withoutMalformedCancels(reader: MessageReader): MessageReader {
  const namesRequest = (m: NotificationMessage) => {
    const id = (m.params as { id?: unknown } | null | undefined)?.id;
    return typeof id === "number" || typeof id === "string";
  };
  return {
    onError: reader.onError,
    onClose: reader.onClose,
    onPartialMessage: reader.onPartialMessage,
    listen: (callback) => reader.listen((m) => (Message.isNotification(m) && m.method === "$/cancelRequest" && !namesRequest(m) ? undefined : callback(m))),
    dispose: () => reader.dispose(),
  };
}
