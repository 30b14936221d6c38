// A worker thread: loads integration bundles and runs many executions at once. Everything a step
// produces is formatted here (log lines, MessagePack step results, HTTP answers) so the main
// thread only appends bytes. An execution's identity follows its async work through
// AsyncLocalStorage, so `console.*`, `process.exit` and stray exceptions are pinned to it.

import { AsyncLocalStorage, createHook } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { setPriority } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { format, inspect } from "node:util";
import { MessagePort, workerData } from "node:worker_threads";
import { Severity, StepName } from "../../../protocol/executions";
import type { StepErrorConfig } from "./definition";
import { runWithCodeCache } from "../codeCache";
import { escapeRegExp } from "../escapeRegExp";
import { encodeResult } from "./stepResult";
import { storable, triggerPayload } from "./triggerPayload";
import { ACTIVITY_BUSY, ACTIVITY_SLOT, ACTIVITY_TICKS, ContextBase, FlowResponse, FromWorker, HookName, PersistedState, ToWorker, contextVersion, decodeRequest, gatherBytes, isHeaderValue } from "./messages";

// A bundle's source map is the file beside it (`<bundle>.map`). Node's own source-map support
// would parse it at every load (tens of MB per worker for a spectral bundle); stacks are mapped
// here instead, on demand.
const sourceMaps = new Map<string, SourceMap | null>();

function sourceMapOf(file: string): SourceMap | null {
  let map = sourceMaps.get(file);
  if (map === undefined) {
    let json: string | null = null;
    try {
      json = readFileSync(`${file}.map`, "utf8");
    } catch {
      // no map: the frames stay as they are
    }
    map = json === null ? null : new SourceMap(JSON.parse(json));
    sourceMaps.set(file, map);
  }
  return map;
}

/** A stack with every frame in a loaded bundle replaced by its TypeScript position. */
function mapStack(stack: string): string {
  // Looked for by name: paths may hold spaces and parentheses (a workspace "My Projects (old)").
  for (const file of bundleFiles) {
    if (!stack.includes(file)) continue;
    stack = stack.replace(new RegExp(`${escapeRegExp(file)}:(\\d+):(\\d+)`, "g"), (frame, line: string, column: string) => {
      const entry = sourceMapOf(file)?.findEntry(Number(line) - 1, Number(column) - 1);
      if (!entry || !("originalSource" in entry) || !entry.originalSource) return frame;
      // A source map's sources are URLs relative to it: esbuild percent-encodes "é" and "(".
      return `${fileURLToPath(new URL(entry.originalSource, pathToFileURL(file)))}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    });
  }
  return stack;
}

interface Bundle {
  key: string;
  triggers: Record<string, { perform: (...args: unknown[]) => Promise<any> } & Partial<Record<HookName, (...args: unknown[]) => Promise<any>>>>;
  actions: Record<string, { perform: (...args: unknown[]) => Promise<any> }>;
  codeNativeIntegrationYAML: string;
}

/** Code of one execution, or of one lifecycle hook (`id` null), running in this worker. */
interface Running {
  id: string | null;
  slot: number;
  stepName: StepName | null;
  logs: string;
  /** For a hook's log lines, which have no execution. */
  instanceId?: string;
  flowId?: string;
}

interface State {
  instanceState: Record<string, unknown>;
  crossFlowState: Record<string, unknown>;
  executionState: Record<string, unknown>;
  integrationState: Record<string, unknown>;
}

// The runtime's own channel, not `parentPort`: user code can import worker_threads and post to
// its parentPort (a library that assumes it owns the thread), which the runtime ignores. The
// channel is taken out of workerData, where user code could find it.
const port: MessagePort = workerData.port;
delete workerData.port;

// User code must not starve the main thread, which answers webhooks: on Linux a thread's nice
// value is its own, so this lowers only this worker.
try {
  setPriority(5);
} catch {
  // not permitted here: run at normal priority
}
const bundles = new Map<number, Bundle & { file: string }>();
const bundleFiles = new Set<string>();
/** A context base as kept here: with the webhook URLs user code reads through `context` (see withUnknownFlows). */
type LoadedContext = ContextBase & { invokableWebhookUrls: Record<string, string> };
/** Context bases by key. */
const contexts = new Map<string, LoadedContext>();
/** Executions canceled while running: they start no further step. */
const canceled = new Set<string>();
const current = new AsyncLocalStorage<Running>();

// Tell the main thread whose code runs, so a thread that never yields can be pinned to one
// execution (pool.ts, PoolWorker.blockedBy).
const activity: Int32Array = workerData.activity;
createHook({
  before() {
    Atomics.store(activity, ACTIVITY_SLOT, current.getStore()?.slot ?? 0);
    Atomics.store(activity, ACTIVITY_BUSY, 1);
    Atomics.add(activity, ACTIVITY_TICKS, 1);
  },
  after() {
    Atomics.store(activity, ACTIVITY_BUSY, 0);
  },
}).enable();

// ---------------------------------------------------------------- outbox: one postMessage per tick
let outbox: FromWorker[] = [];
let transfer: ArrayBuffer[] = [];
const logsPending = new Set<Running>();

function post(message: FromWorker, buffers: Uint8Array[] = []): void {
  if (outbox.length === 0 && logsPending.size === 0) setImmediate(flush);
  outbox.push(message);
  // Only buffers that own their whole ArrayBuffer move; pooled small Buffers are copied.
  for (const b of buffers) if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) transfer.push(b.buffer as ArrayBuffer);
}

function flush(): void {
  // Log lines go first, so that an execution's lines are in before its end.
  const messages: FromWorker[] = [];
  for (const r of logsPending) {
    messages.push({ t: "logs", id: r.id, lines: r.logs });
    r.logs = "";
  }
  logsPending.clear();
  for (const m of outbox) messages.push(m);
  if (messages.length === 0) return;
  // The tick's step results travel in one buffer, which the main thread appends to the blob file
  // as one piece: a buffer each cost it an allocation, a transfer and a write vector apiece.
  const results = gatherBytes(messages, (m) => (m.t === "step" ? m.result : null), (m, copy) => {
    if (m.t === "step") m.result = copy;
  });
  if (results) transfer.push(results);
  const buffers = transfer;
  outbox = [];
  transfer = [];
  port.postMessage(messages, buffers);
}

// ---------------------------------------------------------------- logging
function log(r: Running, severity: Severity, args: unknown[], at = Date.now()): void {
  const message = clip(args.length === 1 && typeof args[0] === "string" ? args[0] : format(...args));
  const line = r.id ? { at, severity, stepName: r.stepName, executionId: r.id, message } : { at, severity, stepName: null, executionId: null, instanceId: r.instanceId, flowId: r.flowId, message };
  if (outbox.length === 0 && logsPending.size === 0) setImmediate(flush);
  r.logs += JSON.stringify(line) + "\n";
  logsPending.add(r);
}

function makeLogger(r: Running) {
  const at = (s: Severity) => (...args: unknown[]) => log(r, s, args);
  return {
    trace: at("TRACE"),
    debug: at("DEBUG"),
    info: at("INFO"),
    log: at("INFO"),
    warn: at("WARN"),
    error: at("ERROR"),
    metric: at("METRIC"),
    section: () => undefined,
    sectionEnd: () => undefined,
  };
}

// console.* in user code lands in the execution's log; outside any execution it goes to stderr.
const consoleSeverities: Record<string, Severity> = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE", dir: "INFO", dirxml: "INFO" };
for (const [method, severity] of Object.entries(consoleSeverities)) {
  const original = (console as any)[method].bind(console);
  (console as any)[method] = (...args: unknown[]) => {
    const r = current.getStore();
    // console.dir's second argument is util.inspect's options, not a value to print.
    if (r) log(r, severity, method === "dir" ? [inspect(args[0], { customInspect: false, ...(args[1] as object) })] : args);
    else original(...args);
  };
}

// ---------------------------------------------------------------- what ends the worker
const realExit = process.exit.bind(process);
function fatal(reason: string): never {
  post({ t: "fatal", id: current.getStore()?.id ?? null, reason });
  flush();
  return realExit(1);
}
process.exit = ((code?: number) => fatal(`process.exit(${code ?? ""}) was called`)) as typeof process.exit;
// A signal to the runtime's own process (its pid, or 0: its group) would stop the server for every flow.
const realKill = process.kill.bind(process);
process.kill = ((pid: number, signal?: string | number) => {
  if (Number(pid) === process.pid || Number(pid) === 0 || Number(pid) === -process.pid) throw new Error("process.kill() on the runtime's own process is not allowed: it would stop every flow");
  return realKill(pid, signal);
}) as typeof process.kill;
// Outside any execution is the integration's own code (a timer its top-level code set): the
// runtime then blames no execution (pool.ts).
const outside = () => (current.getStore() ? "outside the execution's promise chain" : "outside any execution (in the integration's top-level code, or a timer or listener it set up)");
process.on("uncaughtException", (err) => fatal(clip(`uncaught exception ${outside()}: ${describeError(err)}`)));
process.on("unhandledRejection", (err) => fatal(clip(`unhandled promise rejection ${outside()}: ${describeError(err)}`)));

// What user code throws can be anything, including a Proxy or an object whose getters throw:
// describing it must not throw in turn.
// A long message is cut before its stack's frames, which are kept; the whole is cut where it is
// kept (a log line, a stop reason), once, so that the count of what was left out is right.
function describeError(err: unknown): string {
  return describing(err, () => {
    if (!(err instanceof Error)) return typeof err === "string" ? err : format(err);
    if (!err.stack) return `${err.name}: ${err.message}`;
    const stack = mapStack(String(err.stack));
    const frames = stack.search(/\n\s+at /);
    return frames > MAX_TEXT / 2 ? `${clip(stack.slice(0, frames), MAX_TEXT / 2)}${stack.slice(frames)}` : stack;
  });
}

function errorMessage(err: unknown): string {
  return clip(describing(err, () => (err instanceof Error ? String(err.message || err.name) : typeof err === "string" ? err : format(err))));
}

function errorStack(err: unknown): string | undefined {
  try {
    return err instanceof Error && err.stack ? mapStack(String(err.stack)) : undefined;
  } catch {
    return undefined;
  }
}

function describing(err: unknown, describe: () => string): string {
  try {
    return describe();
  } catch (failure) {
    let reason = "";
    try {
      reason = `: ${String((failure as Error)?.message)}`;
    } catch {
      // a failure that cannot be described either
    }
    return `${typeof err === "object" && err !== null ? "an object" : typeof err} was thrown that could not be described${reason}`;
  }
}

/**
 * Log messages and execution errors are kept to this many characters: a longer one is cut, and
 * says so. A stored line stays well under what the log reader takes in one piece (lines.ts), even
 * when JSON escapes every character.
 */
const MAX_TEXT = 100_000;
function clip(text: string, max = MAX_TEXT): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters not kept)` : text;
}

// ---------------------------------------------------------------- results and responses

function toResponse(r: any, defaultStatus: number, defaultBody: unknown, logger: ReturnType<typeof makeLogger>): FlowResponse {
  const value = r && "body" in r ? r.body : r && "data" in r ? r.data : defaultBody;
  const body = value instanceof Uint8Array ? value : Buffer.from(typeof value === "string" ? value : JSON.stringify(value ?? null));
  const contentType = typeof r?.contentType === "string" && r.contentType ? r.contentType : "application/json";
  return { statusCode: responseStatus(r?.statusCode, defaultStatus, logger), contentType, headers: responseHeaders(r?.headers, logger), body };
}

/** Headers the runtime sets itself (the content type comes from the response's `contentType`). */
const RESERVED_HEADERS = new Set(["content-length", "content-type", "transfer-encoding", "trailer", "connection", "keep-alive", "prismatic-executionid"]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The headers Node takes and framing does not own; the execution's log names each one left out. */
function responseHeaders(given: unknown, logger: ReturnType<typeof makeLogger>): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!given || typeof given !== "object") return headers;
  for (const [name, v] of Object.entries(given)) {
    const value = String(v);
    const why = !HEADER_NAME.test(name) ? "not a valid header name" : !isHeaderValue(value) ? "its value is not a valid header value" : RESERVED_HEADERS.has(name.toLowerCase()) ? "Refract sets it" : null;
    if (why) logger.warn(`The response's header ${JSON.stringify(name)} is left out: ${why}`);
    // An own property even for `__proto__`, which plain assignment would take as the prototype.
    else Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return headers;
}

/** A final HTTP status; anything else is answered with the default, and the execution's log says so. */
function responseStatus(given: unknown, defaultStatus: number, logger: ReturnType<typeof makeLogger>): number {
  if (given === undefined || given === null) return defaultStatus;
  const status = Number(given);
  if (Number.isInteger(status) && status >= 200 && status <= 599) return status;
  const shown = typeof given === "number" || typeof given === "string" ? JSON.stringify(given) : `a ${typeof given}`;
  logger.warn(`The response's statusCode ${shown} is not a final HTTP status (200 to 599): answered with ${defaultStatus}`);
  return defaultStatus;
}

/**
 * The context of a step or a hook (spectral-runtime.md §3), written out field by field: building
 * it with object spreads took V8's slow path, about 30 µs per context.
 */
function stepContext(
  base: LoadedContext,
  state: State,
  logger: ReturnType<typeof makeLogger>,
  at: { executionId: string; startedAt: string; invokeUrl: string; stepName: string; componentActionKey: string },
) {
  return {
    webhookUrls: base.invokableWebhookUrls,
    webhookApiKeys: base.webhookApiKeys,
    invokeUrl: at.invokeUrl,
    executionId: at.executionId,
    customer: base.customer,
    instance: base.instance,
    user: base.user,
    integration: base.integration,
    flow: base.flow,
    startedAt: at.startedAt,
    globalDebug: false,
    instanceState: state.instanceState,
    crossFlowState: state.crossFlowState,
    executionState: state.executionState,
    integrationState: state.integrationState,
    logger,
    configVars: base.configVars,
    stepId: `${at.executionId}:${at.stepName}`,
    executionFrame: {
      invokedByExecutionJWT: "",
      invokedByExecutionStartedAt: "",
      componentActionKey: at.componentActionKey,
      executionId: at.executionId,
      executionStartedAt: at.startedAt,
      stepName: at.stepName,
      loopPath: "",
    },
    flowSchemas: {},
    runnerAllocatedMemoryMb: base.runnerAllocatedMemoryMb,
    _components: COMPONENTS,
  };
}

/**
 * State (spectral-runtime.md §3): the persisted scopes come with the run, executionState starts
 * empty; user code mutates the objects in place, and keys a step returns are merged in.
 */
function stateOf(persistedState: PersistedState | null): State {
  return persistedState ? { ...persistedState, executionState: {} } : { instanceState: {}, crossFlowState: {}, executionState: {}, integrationState: {} };
}

function mergeState(state: State, result: any): void {
  if (!result || typeof result !== "object") return;
  for (const key of ["instanceState", "crossFlowState", "executionState", "integrationState"] as const) {
    if (result[key] && typeof result[key] === "object") Object.assign(state[key], result[key]);
  }
}

const persisted = (s: State): PersistedState => ({ instanceState: s.instanceState, crossFlowState: s.crossFlowState, integrationState: s.integrationState });
const persistedJson = (s: State) => JSON.stringify(persisted(s));

/**
 * The persisted state as it is kept, JSON (spectral-runtime.md §3), when the run changed it. What
 * JSON cannot hold fails the run here, rather than the worker's message to the main thread.
 */
function changedState(state: State, before: string): PersistedState | undefined {
  let json;
  try {
    json = persistedJson(state);
  } catch (err) {
    throw new Error(`The execution's state cannot be kept: ${errorMessage(err)} (instanceState, crossFlowState and integrationState are stored as JSON)`);
  }
  return json === before ? undefined : JSON.parse(json);
}
const EMPTY_STATE_JSON = persistedJson(stateOf(null));

/**
 * A step under its flow's errorConfig (spectral-runtime.md §7): `retry` runs it again up to
 * maxAttempts times, delaySeconds apart (doubling with exponential backoff); `ignore`, or
 * `ignoreFinalError` once the retries are spent, goes on without its result.
 */
function performStep<T>(config: StepErrorConfig | null, logger: ReturnType<typeof makeLogger>, perform: () => Promise<T>): Promise<T | undefined> {
  return config ? performWithErrorConfig(config, logger, perform) : perform();
}

async function performWithErrorConfig<T>(config: StepErrorConfig, logger: ReturnType<typeof makeLogger>, perform: () => Promise<T>): Promise<T | undefined> {
  const retries = config.errorHandlerType === "retry" ? config.maxAttempts : 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await perform();
    } catch (err) {
      if (attempt < retries) {
        const delay = config.delaySeconds * (config.usesExponentialBackoff ? 2 ** attempt : 1);
        logger.warn(`Step failed (attempt ${attempt + 1} of ${retries + 1}): ${errorMessage(err)}; retrying in ${delay} s (errorConfig)`);
        await new Promise((r) => setTimeout(r, delay * 1000));
        continue;
      }
      if (config.errorHandlerType === "ignore" || config.ignoreFinalError) {
        logger.warn(`Step failed and its error is ignored (errorConfig): ${errorMessage(err)}`);
        return undefined;
      }
      throw err;
    }
  }
}

/**
 * Spectral's invokeFlow posts to `webhookUrls[name]`. For a name that is not a flow it would post
 * to `undefined` and fail with an error that names nothing; reading such a name gives a URL on
 * which the runtime answers (and logs in the caller) that the integration has no such flow.
 * `in`, `Object.keys` and JSON see only the real flows.
 */
function withUnknownFlows(base: ContextBase): Record<string, string> {
  return new Proxy(base.webhookUrls, {
    get: (urls, name) => (typeof name !== "string" || Object.hasOwn(urls, name) || name in Object.prototype || name === "toJSON" ? Reflect.get(urls, name) : `${base.unknownFlowUrl}/${encodeURIComponent(name)}`),
  });
}

// ---------------------------------------------------------------- running an execution
async function run(msg: Extract<ToWorker, { t: "run" }>, bundle: Bundle, base: LoadedContext): Promise<void> {
  const r: Running = { id: msg.id, slot: msg.slot, stepName: "onTrigger", logs: "" };
  const startedAtIso = new Date(msg.startedAt).toISOString();
  const logger = makeLogger(r);
  const state = stateOf(msg.state);
  const stateBefore = msg.state ? persistedJson(state) : EMPTY_STATE_JSON;
  const request = decodeRequest(msg.request);
  const executionId = msg.id;
  const context = (stepName: StepName, componentActionKey: string) =>
    stepContext(base, state, logger, { executionId, startedAt: startedAtIso, invokeUrl: request.invokeUrl, stepName, componentActionKey });

  await current.run(r, async () => {
    Atomics.store(activity, ACTIVITY_SLOT, r.slot); // its first step runs inside this callback
    const began = Date.now();
    post({ t: "started", id: msg.id, at: began });
    logger.info("Starting Instance Execution...");
    if (base.missingConfigVars.length) {
      logger.warn(`Required config variables have no value: ${base.missingConfigVars.join(", ")}`);
    }
    let step: StepName = "onTrigger";
    let stepStart = began;
    try {
      const payload = triggerPayload(request, base, executionId, startedAtIso);
      const trigger = msg.triggerKey
        ? await performStep(msg.errorConfig, logger, () => bundle.triggers[msg.triggerKey!].perform(context(step, msg.triggerKey!), payload, {}))
        : { payload };
      const results = trigger?.payload ?? payload;
      mergeState(state, trigger);
      const triggerResponse = msg.triggerKey && trigger?.response ? toResponse(trigger.response, 200, { executionId: msg.id }, logger) : undefined;
      // Without a trigger of the flow's own the result is the payload as received, which the store
      // makes again from the request it keeps (triggerPayload.ts).
      const result = msg.triggerKey ? encodeResult(storable(results), undefined) : null;
      post({ t: "step", id: msg.id, stepName: step, result, startedAt: stepStart, endedAt: Date.now(), hasError: false, response: triggerResponse });

      if (canceled.delete(msg.id)) {
        post({ t: "ended", id: msg.id, at: Date.now(), error: "canceled" }); // discarded by the main thread
        return;
      }
      step = r.stepName = "onExecution";
      stepStart = Date.now();
      const out = await performStep(msg.errorConfig, logger, () =>
        bundle.actions[msg.executionKey].perform(context(step, msg.executionKey), { onTrigger: { results } }),
      );
      mergeState(state, out);
      // What can still fail does so before the step is recorded, so that it is recorded once, as failed.
      const executionResult = encodeResult(out?.data, out?.contentType);
      const changed = changedState(state, stateBefore);
      const response = msg.synchronous ? toResponse(out, 200, null, logger) : undefined;
      // The last line and the end share one time: no line of an execution is later than its endedAt.
      const ended = Date.now();
      post({ t: "step", id: msg.id, stepName: step, result: executionResult, startedAt: stepStart, endedAt: ended, hasError: false });
      log(r, "INFO", [`Ending Instance Execution (SUCCESS, ${ended - began} ms)`], ended);
      post({ t: "ended", id: msg.id, at: ended, error: null, response, state: changed }, response ? [response.body] : []);
    } catch (err) {
      // Described before the end is taken: mapping the stack can read a source map (milliseconds).
      const message = errorMessage(err);
      logger.error(describeError(err));
      const result = encodeResult({ error: message, stack: errorStack(err) }, undefined);
      const ended = Date.now();
      post({ t: "step", id: msg.id, stepName: step, result, startedAt: stepStart, endedAt: ended, hasError: true });
      log(r, "INFO", [`Ending Instance Execution (ERROR, ${ended - began} ms)`], ended);
      post({ t: "ended", id: msg.id, at: ended, error: message });
    }
  });
  canceled.delete(msg.id);
}

// ---------------------------------------------------------------- lifecycle hooks
/** Runs a flow's `onInstanceDeploy` or `onInstanceDelete` (spectral-runtime.md §3); its log lines belong to the instance. */
async function runHook(msg: Extract<ToWorker, { t: "hook" }>, bundle: Bundle, base: LoadedContext): Promise<void> {
  const r: Running = { id: null, slot: msg.slot, stepName: null, logs: "", instanceId: base.instance.id, flowId: base.flow.id };
  const logger = makeLogger(r);
  await current.run(r, async () => {
    Atomics.store(activity, ACTIVITY_SLOT, r.slot);
    let error: string | null = null;
    let changed: PersistedState | undefined;
    const state = stateOf(msg.state);
    const before = persistedJson(state);
    try {
      const ctx = stepContext(base, state, logger, { executionId: "", startedAt: new Date().toISOString(), invokeUrl: "", stepName: msg.hook, componentActionKey: msg.triggerKey });
      mergeState(state, await bundle.triggers[msg.triggerKey][msg.hook]!(ctx, {}));
      changed = changedState(state, before);
    } catch (err) {
      error = errorMessage(err);
      logger.error(`${msg.hook} failed: ${describeError(err)}`);
    }
    post({ t: "hookDone", requestId: msg.requestId, error, state: changed });
  });
}

/**
 * Spectral routes `context.components.<component>.<action>(…)` here. Prismatic's hosted
 * components do not exist locally; the platform's built-in triggers (a flow with a lifecycle hook
 * but no `onTrigger` calls the default one) answer as Prismatic's do: the payload passes through.
 */
const BUILT_IN_TRIGGERS = new Set(["webhook-triggers", "schedule-triggers", "management-triggers"]);
const COMPONENTS = {
  invoke: (ref: any) => Promise.reject(componentUnavailable(ref)),
  invokeTrigger: (ref: any, _context: unknown, payload: unknown) =>
    BUILT_IN_TRIGGERS.has(ref?.component?.key) ? Promise.resolve(payload ? { payload } : {}) : Promise.reject(componentUnavailable(ref)),
};

function componentUnavailable(ref: any): Error {
  const component = ref?.component?.key ?? "unknown";
  return new Error(
    `Component action ${component}.${ref?.key ?? "unknown"} is not available locally: Refract runs only the integration's own code, not Prismatic's hosted components`,
  );
}

// ---------------------------------------------------------------- loading bundles
function load(version: number, file: string): FromWorker {
  // Deep enough to reach the integration's own frame below spectral's when integration() throws.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  try {
    bundleFiles.add(file);
    // A bundle is named by its content, so its code cache sits beside it: the second worker, and
    // every start on an unchanged build, skip compiling what the first load compiled.
    const mod = runWithCodeCache(file, `${file}.cache`, 0) as { default?: Bundle } | undefined;
    const bundle = (mod?.default ?? mod) as Bundle | undefined;
    if (!bundle || typeof bundle.codeNativeIntegrationYAML !== "string") {
      return { t: "loaded", version, ok: false, error: "the entry does not default-export integration({...}) from @prismatic-io/spectral" };
    }
    bundles.set(version, Object.assign(bundle, { file }));
    const hooks: Record<string, HookName[]> = {};
    for (const [key, t] of Object.entries(bundle.triggers ?? {})) {
      hooks[key] = (["onInstanceDeploy", "onInstanceDelete"] as const).filter((h) => typeof t[h] === "function");
    }
    return { t: "loaded", version, ok: true, key: bundle.key, yaml: bundle.codeNativeIntegrationYAML, hooks };
  } catch (err) {
    return { t: "loaded", version, ok: false, error: clip(describeError(err)) };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

port.on("message", (messages: ToWorker[]) => {
  for (const msg of messages) {
    switch (msg.t) {
      case "load":
        post(load(msg.version, msg.file));
        break;
      case "unload": {
        const file = bundles.get(msg.version)?.file;
        bundles.delete(msg.version);
        if (file && ![...bundles.values()].some((b) => b.file === file)) {
          bundleFiles.delete(file);
          sourceMaps.delete(file);
        }
        for (const key of contexts.keys()) if (contextVersion(key) === msg.version) contexts.delete(key);
        break;
      }
      case "context":
        contexts.set(msg.key, { ...msg.base, invokableWebhookUrls: withUnknownFlows(msg.base) });
        break;
      case "cancel":
        canceled.add(msg.id);
        break;
      case "hook": {
        const bundle = bundles.get(msg.version);
        const base = contexts.get(msg.contextKey);
        if (!bundle || !base || typeof bundle.triggers[msg.triggerKey]?.[msg.hook] !== "function") {
          post({ t: "hookDone", requestId: msg.requestId, error: `internal: ${msg.hook} of ${msg.triggerKey} is not loaded in this worker` });
          break;
        }
        void runHook(msg, bundle, base);
        break;
      }
      case "run": {
        const bundle = bundles.get(msg.version);
        const base = contexts.get(msg.contextKey);
        if (!bundle || !base) {
          post({ t: "ended", id: msg.id, at: Date.now(), error: `internal: version ${msg.version} or its context is not loaded in this worker` });
          break;
        }
        void run(msg, bundle, base);
        break;
      }
    }
  }
});
