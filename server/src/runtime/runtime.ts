import { EventEmitter } from "node:events";
import * as os from "node:os";
import * as path from "node:path";
import { STOPPED_BEFORE_FINISH } from "../../../protocol/executions";
import { localUser, newId } from "../ids";
import { InvokeType } from "../../../protocol/executions";
import { ExecutionLinks, ExecutionRecord, ExecutionStore } from "../store/executions";
import { LogSearch } from "../store/logs";
import { LogScans } from "../store/scans";
import { FlowConfig, Instance, IntegrationMeta, Metadata } from "../store/metadata";
import { FlowDefinition, IntegrationDefinition, configVarValue, readDefinition } from "./definition";
import { Admission, ExecutionActionError, ExecutionWaiters, ReplayFilter, Started, TriggerRefused, UNKNOWN_FLOW, emptyRequest, headerValue, matchesReplayFilter, payloadField } from "./invocation";
import { CurrentIntegration, Instances } from "./instances";
import { BACKGROUND_AFTER_MS, BuildOutcome, Loader, sourceLocation } from "./loader";
import { Lifecycle } from "./lifecycle";
import { ContextBase, FlowResponse, FromWorker, HookName, PersistedState, TriggerRequest, contextKeyOf, contextVersion, decodeRequest, encodeRequest } from "./messages";
import { StateStore, stateKeys } from "../store/state";
import { PoolWorker, WorkerPool, WorkerStop } from "./pool";

export interface RuntimeOptions {
  workspace: string;
  dataDir: string;
  entry?: string;
  workerScript: string;
  workers: number;
  memoryLimitMb: number;
  executionTimeoutS: number;
  maxConcurrency: number;
  maxChainDepth: number;
  retentionDays: number;
}

export interface BuildState {
  ok: boolean;
  error: string | null;
  versionNumber: number;
}

/** Whose state an execution or hook uses: its integration, instance and flow. */
type StateScope = { integrationId: string; instanceId: string; flowId: string };

/**
 * Executions from the backlog (bulk replays, retries) running at once. Thousands in flight made
 * the workers' reports arrive in batches that held the main thread for tens of milliseconds
 * (webhook p99 23-30 ms during a bulk replay of 10,000); a few dozen keep the workers busy.
 */
const BACKGROUND_CONCURRENCY = 32;
/**
 * How long a build's load (the integration's top-level code and integration()) may take: a
 * spectral integration loads in well under a second, and the ready line and every later build
 * wait for it. A newer build waiting for it shortens the wait: the fix of a load that hangs.
 */
const LOAD_TIME_LIMIT_MS = 30_000;
const SUPERSEDED_LOAD_MS = 5_000;

interface Pending extends ExecutionWaiters {
  record: ExecutionRecord;
  /** `encodeRequest`'s bytes: what is stored is what the worker gets. */
  request: Uint8Array;
  /** The caller waits for the flow's result as its HTTP answer. */
  synchronous: boolean;
  worker: PoolWorker | null;
  slot: number;
  version: number;
  /** The context it runs with, once dispatched: the store keeps its trigger payload's part (payloadStep). */
  context?: { key: string; base: ContextBase };
  deadline: number;
  /** Ended early (canceled, or its record could not be written; endEarly): what its code still produces is discarded. */
  canceled?: boolean;
  /** Its slots (its flow's queue limit, the global limit) are free again: it ended, or was canceled while its code runs on. */
  released?: boolean;
  /** Started in bulk (a replay or retry): it waits in the backlog and runs with few others. */
  background: boolean;
}

/**
 * The runtime of one workspace: its integration's builds, its customers and instances, and its
 * executions from acceptance to the end, on a pool of worker threads.
 */
export class Runtime extends EventEmitter {
  readonly store: ExecutionStore;
  readonly metadata: Metadata;
  readonly instances: Instances;
  readonly lifecycle: Lifecycle;
  readonly state: StateStore;
  readonly logs: LogSearch;
  private readonly scans: LogScans;
  build: BuildState = { ok: false, error: "not built yet", versionNumber: 0 };
  integration: CurrentIntegration | null = null;
  /** The base of webhook URLs, known once the HTTP listener is up. */
  baseUrl = "http://127.0.0.1";

  private readonly loader: Loader;
  readonly pool: WorkerPool;
  private readonly running = new Map<string, Pending>();
  private readonly queue: Pending[] = [];
  private readonly runningByFlowConfig = new Map<string, number>();
  private runningBackground = 0;
  /** Entries of `running` canceled while their code runs on: they hold no slot, and a stop does not wait for them. */
  private canceledRunning = 0;
  /** The dedupe value of each queued or running execution of a flow with `dedupeIdField`. */
  private readonly dedupeKeys = new Map<string, string>();
  /** Pending automatic retries, by the first attempt's id. */
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; flowConfigId: string; uniqueId: Promise<string | undefined> | undefined }>();
  /**
   * Executions started in bulk (replays, retries) wait here: webhooks, schedules and cross-flow
   * calls go first, and a bulk replay does not hold up or refuse webhooks.
   */
  private readonly backlog: Pending[] = [];
  /** Accepted executions whose record is not written yet, by id: they run once it is (accept). */
  private readonly recording = new Map<string, Pending>();
  /** Held webhooks, in arrival order; each takes its room when called. */
  private readonly roomWaiters: Array<() => void> = [];
  /** Webhooks let in that are not queued yet (reading their body, being recorded): room they hold. */
  private admitted = 0;
  private readonly contexts = new Map<string, ContextBase>();
  /** Lifecycle hooks waiting for their worker's answer, by request id. */
  private readonly hooks = new Map<number, { worker: PoolWorker; version: number; scope: StateScope; done: (error: string | null) => void }>();
  private lastHook = 0;
  private bundleFile: string | null = null;
  private contextRevision = 0;
  private lastSlot = 0;
  private sweep: NodeJS.Timeout;
  private retention: NodeJS.Timeout;
  private recovered: string[] = [];
  /** Waiting for a worker's answer to a load, by `<threadId>:<version>`. */
  private loads = new Map<string, (m: Extract<FromWorker, { t: "loaded" }>) => void>();
  private firstBuild: Promise<void>;
  private firstBuildDone!: () => void;
  private stopping = false;
  /** Resolves once the execution index is loaded (`ExecutionStore.open`). */
  storeLoaded: Promise<void> = Promise.resolve();
  /** Builds handed over by the loader and not taken yet (they wait for the one loading). */
  private buildsWaiting = 0;

  constructor(readonly options: RuntimeOptions) {
    super();
    this.setMaxListeners(0); // every `ended()` waiter listens for a while
    this.store = new ExecutionStore(options.dataDir);
    // The log scan threads' script is built beside the execution worker's (dist/).
    this.scans = new LogScans(path.join(path.dirname(options.workerScript), "log-scan.js"), Math.min(4, os.availableParallelism()));
    this.logs = new LogSearch(this.store, this.scans);
    this.metadata = new Metadata(options.dataDir);
    this.state = new StateStore(options.dataDir);
    this.instances = new Instances(this.metadata, (id) => (this.integration?.meta.id === id ? this.integration : null), () => {
      this.contextRevision++;
      this.contexts.clear();
    });
    this.lifecycle = new Lifecycle(this);
    this.pool = new WorkerPool(
      { script: options.workerScript, size: options.workers, memoryLimitMb: options.memoryLimitMb },
      (w, messages) => this.fromWorker(w, messages),
      (w, stop) => this.workerStopped(w, stop),
    );
    // Builds are taken one at a time, in order: each gets the next version number.
    let building = Promise.resolve();
    const take = (b: BuildOutcome) => {
      this.buildsWaiting++;
      return (building = building.then(() => (this.buildsWaiting--, this.built(b))));
    };
    this.loader = new Loader(options.workspace, path.join(options.dataDir, "builds"), take, options.entry);
    this.firstBuild = new Promise((resolve) => (this.firstBuildDone = resolve));
    this.sweep = setInterval(() => this.enforceTimeLimits(), 250);
    this.sweep.unref();
    this.retention = setInterval(() => void this.applyRetention(), 3_600_000);
    this.retention.unref();
  }

  /** Opens the store, builds, deploys the system instance; resolves when ready (INTERFACES.md §1). */
  async start(): Promise<void> {
    // The index loads in the background once the first build is in: webhooks are accepted
    // meanwhile, and executions accepted before a stop but never started run once it is in.
    this.storeLoaded = this.store.open(this.firstBuild).then((ids) => {
      this.recovered = ids;
      this.pump();
      void this.applyRetention();
    });
    this.instances.systemCustomer();
    await this.loader.start();
    await this.firstBuild;
  }

  /**
   * Retention (--retention-days): the days older than that go, a whole day per store operation,
   * at start-up and then hourly. A day goes once all of it is older than the limit.
   */
  private async applyRetention(): Promise<void> {
    const cutoff = new Date(Date.now() - this.options.retentionDays * 86_400_000).toISOString().slice(0, 10);
    for (const day of this.store.listDays()) {
      if (day < cutoff && !this.stopping) await this.store.deleteDay(day);
    }
  }

  // ---------------------------------------------------------------- builds
  private async built(outcome: BuildOutcome): Promise<void> {
    if (!outcome.ok) return this.buildFailed(outcome.error);
    if (outcome.reused && outcome.file === this.bundleFile) {
      // The sources came back to the bundle that is serving: nothing new to load.
      if (!this.build.ok) {
        this.build = { ...this.build, ok: true, error: null };
        this.emit("build", this.build);
      }
      return;
    }
    const previous = this.metadata.data.integrations.find((i) => i.root === ".");
    const version = (previous?.versionNumber ?? 0) + (outcome.reused && previous ? 0 : 1);
    const loaded = await this.describe(version, outcome.file);
    if (!loaded.ok) {
      const location = sourceLocation(this.options.workspace, loaded.error);
      const spectralBug = /Invalid trigger configuration detected/.test(loaded.error)
        ? ": a flow has onInstanceDeploy or onInstanceDelete but no onTrigger, which spectral rejects (a known spectral bug); give that flow an onTrigger"
        : "";
      return this.loadFailed(outcome.file, `${location ? `${location}: ` : ""}integration() failed to load: ${loaded.error.split("\n")[0].replace(/: [{[]$/, "")}${spectralBug}`);
    }
    let definition: IntegrationDefinition;
    try {
      definition = readDefinition(loaded.yaml, loaded.key, loaded.hooks);
    } catch (err) {
      return this.loadFailed(outcome.file, (err as Error).message);
    }
    const meta = this.metadata.change((d) => {
      let m = d.integrations.find((i) => i.root === ".");
      if (!m) {
        m = { id: newId("Integration"), root: ".", name: definition.name, versionNumber: 0, flowIds: {} };
        d.integrations.push(m);
      }
      m.name = definition.name;
      if (m.versionNumber !== version || !m.versionCreatedAt) m.versionCreatedAt = new Date().toISOString();
      m.versionNumber = version;
      for (const f of definition.flows) m.flowIds[f.stableKey] ??= newId("IntegrationFlow");
      return m;
    });
    const flowsById = new Map(definition.flows.map((f) => [meta.flowIds[f.stableKey], f]));
    this.integration = { meta, definition, flowsById };
    this.bundleFile = outcome.file;
    this.loader.serving(outcome.file);
    this.build = { ok: true, error: null, versionNumber: meta.versionNumber };
    this.contexts.clear();
    for (const w of this.pool.workers) for (const v of [...w.versions]) this.unloadIfUnused(w, v);
    await this.lifecycle.built();
    this.emit("build", this.build);
    this.firstBuildDone();
    this.pump();
  }

  /** A bundle that built but cannot serve: the loader keeps the last good one for restarts. */
  private loadFailed(file: string, error: string): void {
    this.loader.failed(file, error);
    this.buildFailed(error);
  }

  private buildFailed(error: string): void {
    this.build = { ...this.build, ok: false, error };
    this.emit("build", this.build);
    this.firstBuildDone();
  }

  /**
   * Loads a build in one worker and reads its definition from it, then in the others (so none
   * loads it on an execution's time) without waiting: at start-up the first worker's load is all
   * the ready line waits for, and the others load a little later. A worker picked before it has
   * the build, or that replaces a stopped one, loads it when first used.
   */
  private describe(version: number, file: string): Promise<Extract<FromWorker, { t: "loaded" }>> {
    const [first, ...others] = this.pool.workers;
    return new Promise((resolve) => {
      this.loads.set(`${first.id}:${version}`, (m) => {
        if (m.ok) {
          first.versions.add(version);
          const loadOthers = () => {
            for (const w of others) {
              if (w.versions.has(version) || !this.pool.workers.includes(w)) continue;
              w.send({ t: "load", version, file });
              w.versions.add(version);
            }
          };
          // At start-up they wait, so that the first requests (an editor's views filling) get the CPU.
          if (this.integration) loadOthers();
          else setTimeout(() => !this.stopping && this.integration?.meta.versionNumber === version && loadOthers(), BACKGROUND_AFTER_MS).unref();
        }
        resolve(m);
      });
      first.send({ t: "load", version, file });
    });
  }

  /** The flow definition of the current build for a flow id, if it still exists. */
  flowById(flowId: string): FlowDefinition | undefined {
    return this.integration?.flowsById.get(flowId);
  }

  webhookUrl(flowConfigId: string): string {
    return `${this.baseUrl}/trigger/${flowConfigId}`;
  }

  // ---------------------------------------------------------------- accepting executions
  /**
   * A webhook request starts an execution of its flow config's flow. Resolves once it is recorded
   * durably; throws TriggerRefused when the webhook cannot start one (INTERFACES.md §2).
   */
  async trigger(flowConfigId: string, request: TriggerRequest, waiters: ExecutionWaiters = {}): Promise<Started> {
    if (flowConfigId === UNKNOWN_FLOW) this.refuseUnknownFlow(request);
    const { fc, instance, flow } = this.target(flowConfigId);
    if (!instance.enabled) throw new TriggerRefused(409, `Instance "${instance.name}" is disabled`);
    if (!instance.deployed) throw new TriggerRefused(409, `Instance "${instance.name}" is not deployed${instance.deployError ? `: ${instance.deployError}` : ""}`);
    const keys = flow.endpointSecurityType === "customer_required" ? fc.apiKeys : flow.endpointSecurityType === "organization" ? flow.organizationApiKeys : null;
    if (keys) {
      const given = headerValue(request.headers, "api-key");
      if (given === undefined) throw new TriggerRefused(401, `Flow "${flow.name}" requires an Api-Key header (endpoint security ${flow.endpointSecurityType})`);
      if (!keys.includes(given)) throw new TriggerRefused(401, `The Api-Key header does not match a key of flow "${flow.name}" (endpoint security ${flow.endpointSecurityType})`);
    }
    // Spectral's invokeFlow marks a cross-flow call with these headers (spectral-runtime.md §5).
    const caller = headerValue(request.headers, "prismatic-invoke-type") === "Cross Flow" ? headerValue(request.headers, "prismatic-executionid") : undefined;
    const parent = caller === undefined ? undefined : this.store.executions.get(caller);
    const synchronous = flow.isSynchronous || headerValue(request.headers, "prismatic-synchronous")?.toLowerCase() === "true";
    if (parent) this.checkChain(parent, fc.id, flow, synchronous);
    return this.accept(fc, instance, flow, request, {
      invokeType: parent ? "CROSS_FLOW" : instance.isSystem ? "INTEGRATION_FLOW_TEST" : "WEBHOOK",
      links: parent ? { invokedBy: parent.id } : null,
      waiters,
      synchronous,
    });
  }

  /** Starts an execution that no webhook asked for: a schedule, a deploy or removal, a replay, a retry. */
  invoke(flowConfigId: string, request: TriggerRequest, invokeType: InvokeType, links: ExecutionLinks | null = null, background = false): Promise<Started> {
    const { fc, instance, flow } = this.target(flowConfigId);
    return this.accept(fc, instance, flow, request, { invokeType, links, waiters: {}, synchronous: false, background });
  }

  /** `invokeFlow` named a flow the integration does not have (see ContextBase.unknownFlowUrl). */
  private refuseUnknownFlow(request: TriggerRequest): never {
    const names = this.integration?.definition.flows.map((f) => `"${f.name}"`).join(", ");
    const message = `invokeFlow("${request.pathFragment}"): this integration has no flow named "${request.pathFragment}" (its flows: ${names})`;
    const caller = headerValue(request.headers, "prismatic-executionid");
    if (caller && this.store.executions.has(caller)) {
      this.store.appendLogs(caller, JSON.stringify({ at: Date.now(), severity: "ERROR", stepName: "onExecution", executionId: caller, message }) + "\n");
    }
    throw new TriggerRefused(404, message);
  }

  private target(flowConfigId: string): { fc: FlowConfig; instance: Instance; flow: FlowDefinition } {
    if (this.stopping) throw new TriggerRefused(503, "Refract is stopping");
    if (!this.integration) throw new TriggerRefused(503, `The integration has no successful build yet: ${this.build.error}`);
    const fc = this.instances.flowConfig(flowConfigId);
    if (!fc) throw new TriggerRefused(404, `No flow config with id ${flowConfigId}`);
    const instance = this.instances.instance(fc.instanceId)!;
    const flow = this.flowById(fc.flowId);
    if (!flow) throw new TriggerRefused(404, `The flow of flow config ${flowConfigId} no longer exists in the integration`);
    const writeError = this.store.writeError;
    if (writeError) throw new TriggerRefused(503, `Refract cannot write to its data dir (${writeError.message}); retry later`);
    return { fc, instance, flow };
  }

  /**
   * Cross-flow calls never deadlock (INTERFACES.md §4): a chain deeper than --max-chain-depth, or
   * a synchronous call that would wait for a slot of its flow's own queue held by its own chain
   * (a FIFO flow calling itself), fails at once with an error that shows the chain.
   */
  private checkChain(parent: ExecutionRecord, calleeFlowConfigId: string, callee: FlowDefinition, synchronous: boolean): void {
    const chain = [parent];
    for (let x = parent; x.links?.invokedBy; ) {
      const up = this.store.executions.get(x.links.invokedBy);
      if (!up) break;
      chain.unshift((x = up));
    }
    const shown = [...chain.map((x) => x.scope.flowName), callee.name].join(" → ");
    const limit = this.flowLimit(calleeFlowConfigId);
    const heldByChain = chain.filter((x) => x.scope.flowConfigId === calleeFlowConfigId && x.endedAt === null).length;
    let message: string;
    const runs = limit === 1 ? "one execution at a time (FIFO)" : `${limit} executions at a time`;
    if (chain.length >= this.options.maxChainDepth) {
      message = `Cross-flow call refused: the chain ${shown} would be ${chain.length + 1} executions deep, over --max-chain-depth ${this.options.maxChainDepth}`;
    } else if (synchronous && limit !== null && heldByChain >= limit) {
      message = `Cross-flow call refused: the chain ${shown} would wait forever: "${callee.name}" runs ${runs}, and its caller's own chain holds ${limit === 1 ? "that slot" : "those slots"}`;
    } else if (synchronous && this.atFlowLimit(calleeFlowConfigId) && this.wouldWaitForever(parent.id, calleeFlowConfigId)) {
      message = `Cross-flow call refused: the chain ${shown} would wait forever: "${callee.name}" runs ${runs}, and what holds ${limit === 1 ? "that slot" : "those slots"} waits, through cross-flow calls of its own, on this chain`;
    } else {
      return;
    }
    this.store.appendLogs(parent.id, JSON.stringify({ at: Date.now(), severity: "ERROR", stepName: parent.stepCount ? "onExecution" : "onTrigger", executionId: parent.id, message }) + "\n");
    throw new TriggerRefused(508, message);
  }

  /**
   * Whether a synchronous call from `callerId` to a flow config at its limit would never get a
   * slot: every execution holding one waits, through synchronous cross-flow calls (queued or
   * running), on this caller (two chains calling each other's FIFO flows). Liveness as a least
   * fixpoint over who waits on whom: a running execution ends once the callees it waits on are
   * live; a queued callee starts once its flow is below its limit or a holder of a slot is live.
   */
  private wouldWaitForever(callerId: string, flowConfigId: string): boolean {
    const NEW = ""; // the call being made
    const waitsOn = new Map<string, string[]>([[callerId, [NEW]]]);
    const queuedCallees = new Map<string, string>([[NEW, flowConfigId]]); // id -> flow config
    const holders = new Map<string, string[]>(); // flow config -> running ids
    const push = (map: Map<string, string[]>, key: string, value: string) => (map.get(key) ?? map.set(key, []).get(key)!).push(value);
    for (const p of this.running.values()) push(holders, p.record.scope.flowConfigId, p.record.id);
    for (const p of [...this.recording.values(), ...this.running.values(), ...this.queue, ...this.backlog]) {
      const by = p.record.links?.invokedBy;
      if (!p.synchronous || !by || p.canceled) continue;
      push(waitsOn, by, p.record.id);
      if (!this.running.has(p.record.id)) queuedCallees.set(p.record.id, p.record.scope.flowConfigId);
    }
    const live = new Set<string>();
    const isLive = (id: string) => live.has(id);
    for (let changed = true; changed; ) {
      changed = false;
      const mark = (id: string, canEnd: boolean) => {
        if (canEnd && !live.has(id)) (live.add(id), (changed = true));
      };
      for (const id of this.running.keys()) mark(id, (waitsOn.get(id) ?? []).every(isLive));
      for (const [id, fc] of queuedCallees) mark(id, !this.atFlowLimit(fc) || (holders.get(fc) ?? []).some(isLive));
    }
    return !live.has(NEW);
  }

  /**
   * queueConfig (spectral-runtime.md §7): a singleton schedule does not start while one of its
   * executions is queued or running, and with `dedupeIdField` a request whose value is already
   * being handled is dropped as a duplicate.
   */
  private isDuplicate(flowConfigId: string, flow: FlowDefinition, dedupeKey: string | undefined, invokeType: InvokeType, links: ExecutionLinks | null): boolean {
    // A scheduled run, not a replay or retry of one (they keep its invoke type).
    const singleton = flow.queueConfig?.singletonExecutions === true && invokeType === "SCHEDULED" && !links?.replayOf && !links?.retryOf;
    if (!singleton && dedupeKey === undefined) return false;
    for (const p of [...this.recording.values(), ...this.running.values(), ...this.queue, ...this.backlog]) {
      if (p.record.scope.flowConfigId !== flowConfigId || p.canceled) continue;
      if (singleton || this.dedupeKeys.get(p.record.id) === dedupeKey) return true;
    }
    return false;
  }

  private async accept(
    fc: FlowConfig,
    instance: Instance,
    flow: FlowDefinition,
    request: TriggerRequest,
    o: { invokeType: InvokeType; links: ExecutionLinks | null; waiters: ExecutionWaiters; synchronous: boolean; background?: boolean },
  ): Promise<Started> {
    const id = newId("InstanceExecutionResult");
    const scope = {
      flowConfigId: fc.id,
      flowId: fc.flowId,
      flowName: flow.name,
      instanceId: instance.id,
      customerId: instance.customerId,
      integrationId: instance.integrationId,
      isTestExecution: instance.isSystem,
    };
    const bytes = encodeRequest(request);
    const journaled = this.store.accept(id, scope, o.invokeType, Date.now(), bytes, o.links);
    const record = this.store.executions.get(id)!;
    const dedupeKey = flow.queueConfig?.dedupeIdField ? payloadField(request, flow.queueConfig.dedupeIdField) : undefined;
    const uniqueId = flow.retryConfig?.uniqueRequestIdField && !o.links?.retryOf ? payloadField(request, flow.retryConfig.uniqueRequestIdField) : undefined;
    if (uniqueId !== undefined && this.retries.size) void this.supersedeRetries(fc.id, uniqueId, id);
    if (this.isDuplicate(fc.id, flow, dedupeKey, o.invokeType, o.links)) {
      const message = dedupeKey === undefined ? "another execution of this singleton flow is queued or running" : `an execution with the same ${flow.queueConfig!.dedupeIdField} (${dedupeKey}) is queued or running`;
      this.store.appendLogs(id, JSON.stringify({ at: Date.now(), severity: "INFO", stepName: null, executionId: id, message: `Ending Instance Execution (CANCELED): a duplicate: ${message}` }) + "\n");
      this.store.ended(id, "CANCELED", "CANCELED_AS_DUPLICATE", null);
      this.emit("execution", record);
      await journaled;
      return { id, flow, synchronous: false };
    }
    if (dedupeKey !== undefined) this.dedupeKeys.set(id, dedupeKey);
    const background = o.background === true;
    const pending: Pending = { onTrigger: o.waiters.onTrigger, onEnd: o.waiters.onEnd, record, request: bytes, synchronous: o.synchronous, worker: null, slot: 0, version: 0, deadline: 0, background };
    // It runs only once its record is written: a caller answered that it was not recorded (a
    // full disk) must be able to send it again without it having run.
    this.recording.set(id, pending);
    try {
      await journaled;
    } catch (err) {
      // Nor may it run at the next start: it ends now, and its end reaches the disk after its start.
      this.endEarly(record, "ERROR", `its record could not be written: ${(err as Error).message}`);
      throw err;
    } finally {
      this.recording.delete(id);
    }
    if (pending.canceled) return { id, flow, synchronous: o.synchronous };
    if (o.invokeType === "CROSS_FLOW" && !this.atFlowLimit(fc.id)) {
      // The caller may be waiting for it while holding a slot: it runs now, over the global cap,
      // so that callers never wait on a queue that only they can drain (INTERFACES.md §4).
      this.dispatch(pending);
    } else {
      (background ? this.backlog : this.queue).push(pending);
      this.pump();
    }
    return { id, flow, synchronous: o.synchronous };
  }

  /** Resolves with the execution once it has ended (at once if it has). */
  ended(id: string): Promise<ExecutionRecord> {
    const x = this.store.executions.get(id);
    if (!x || x.endedAt !== null) return Promise.resolve(x!);
    return new Promise((resolve) => {
      const onEnd = (ended: ExecutionRecord) => {
        if (ended.id !== id) return;
        this.off("execution", onEnd);
        resolve(ended);
      };
      this.on("execution", onEnd);
    });
  }

  // ---------------------------------------------------------------- replay and cancel
  /**
   * Replays an ended execution: a new execution of the same flow config with exactly the
   * original trigger request, on the current build, linked to the original (`replayOf` names the
   * first execution of a replay chain, as Prismatic's replayForExecution does).
   */
  async replay(id: string, background = false): Promise<Started> {
    const x = this.endedExecution(id, "replayed");
    const request = x.request && (await this.store.readBlob(x, x.request));
    if (!request) throw new ExecutionActionError(`Execution ${id} cannot be replayed: its stored request is gone`);
    if (!this.instances.flowConfig(x.scope.flowConfigId)) throw new ExecutionActionError(`Execution ${id} cannot be replayed: its instance "${x.scope.instanceId}" or flow config no longer exists`);
    try {
      return await this.invoke(x.scope.flowConfigId, decodeRequest(request), x.invokeType, { replayOf: x.links?.replayOf ?? x.id }, background);
    } catch (err) {
      throw err instanceof TriggerRefused ? new ExecutionActionError(`Execution ${id} cannot be replayed: ${err.message}`) : err;
    }
  }

  /**
   * Replays every ended execution that matches (runner-extensions.graphql, ReplayExecutionsInput),
   * oldest first; the replays wait behind webhooks. Resolves to the replays started.
   */
  async replayMany(filter: ReplayFilter): Promise<ExecutionRecord[]> {
    const matches = [...this.store.executions.values()].filter((x) => x.endedAt !== null && matchesReplayFilter(x, filter, this.store));
    const started: ExecutionRecord[] = [];
    for (const x of matches.sort((a, b) => a.startedAt - b.startedAt)) {
      try {
        started.push(this.store.executions.get((await this.replay(x.id, true)).id)!);
      } catch (err) {
        if (!(err instanceof ExecutionActionError)) throw err;
        // one that cannot be replayed (its instance was removed) does not stop the others
      }
    }
    return started;
  }

  /**
   * Cancels an execution. A queued one leaves its queue; a running one is CANCELED at once and
   * what its code still produces is discarded (its code finishes or meets the time limit in the
   * background); `force` also terminates its worker (INTERFACES.md §4).
   */
  cancel(id: string, force = false): ExecutionRecord {
    const x = this.store.executions.get(id);
    if (!x) throw new ExecutionActionError(`Execution ${id} is not stored (unknown id, or removed by retention)`);
    if (x.endedAt !== null) throw new ExecutionActionError(`Execution ${id} has already ended (${x.status}): there is nothing to cancel`);
    this.endEarly(x, "CANCELED", "canceled by user", force);
    return x;
  }

  /**
   * Ends an execution before its code does: canceled, or (ERROR) one that must not run. A queued
   * one leaves its queue; what a running one's code still produces is discarded.
   */
  private endEarly(x: ExecutionRecord, status: "CANCELED" | "ERROR", reason: string, force = false): void {
    const id = x.id;
    const queued = [this.queue, this.backlog].map((q) => q.findIndex((p) => p.record.id === id));
    const list = queued[0] >= 0 ? this.queue : queued[1] >= 0 ? this.backlog : null;
    const p = list ? list.splice(Math.max(...queued), 1)[0] : (this.running.get(id) ?? this.recording.get(id));
    const at = Date.now();
    const canceled = status === "CANCELED";
    this.store.appendLogs(id, JSON.stringify({ at, severity: canceled ? "INFO" : "ERROR", stepName: null, executionId: id, message: `Ending Instance Execution (${status}): ${reason}` }) + "\n");
    this.store.ended(id, status, canceled ? "CANCELED_BY_USER" : "ERROR", canceled ? null : reason, at);
    this.dedupeKeys.delete(id);
    if (p) {
      p.canceled = true;
      p.onEnd?.({ error: canceled ? "The execution was canceled" : reason, response: undefined });
      p.onEnd = p.onTrigger = undefined;
      if (p.worker) p.worker.send({ t: "cancel", id });
      // Its code runs on until it returns or meets the time limit: the next execution of a FIFO
      // flow, or any under --max-concurrency, does not wait for that.
      if (this.running.get(id) === p && p.worker) {
        this.releaseSlots(p);
        this.canceledRunning++;
      }
      if (force && p.worker) this.pool.terminate(p.worker, { culprit: id, reason: "it was canceled with force, which terminates its worker" });
    }
    this.emit("execution", x);
    this.pump();
  }

  private endedExecution(id: string, what: string): ExecutionRecord {
    const x = this.store.executions.get(id);
    if (!x) throw new ExecutionActionError(`Execution ${id} cannot be ${what}: it is not stored (unknown id, or removed by retention)`);
    if (x.endedAt === null) throw new ExecutionActionError(`Execution ${id} cannot be ${what}: it is still ${x.status === "QUEUED" ? "queued" : "running"}; wait for it to end`);
    return x;
  }

  /** Starts queued executions while there is room. */
  private pump(): void {
    if (this.stopping) return; // what is still queued runs at the next start
    if (this.recovered.length && this.integration) void this.requeueRecovered();
    for (const list of [this.queue, this.backlog]) {
      const room = () => this.running.size - this.canceledRunning < this.options.maxConcurrency && this.pool.canTakeRun() && (list === this.queue || this.runningBackground < BACKGROUND_CONCURRENCY);
      // In arrival order, passing over executions whose flow is at its own limit (FIFO, throttled).
      for (let i = 0; i < list.length && this.integration && room(); ) {
        if (this.atFlowLimit(list[i].record.scope.flowConfigId)) i++;
        else this.dispatch(i === 0 ? list.shift()! : list.splice(i, 1)[0]);
      }
    }
    this.letHeldWebhooksIn();
  }

  private letHeldWebhooksIn(): void {
    while (this.roomWaiters.length && this.queue.length + this.admitted < this.options.maxConcurrency) this.roomWaiters.shift()!();
  }

  /** The flow's queueConfig allows no more running executions of this flow config now. */
  private atFlowLimit(flowConfigId: string): boolean {
    const limit = this.flowLimit(flowConfigId);
    return limit !== null && (this.runningByFlowConfig.get(flowConfigId) ?? 0) >= limit;
  }

  /** 1 for a FIFO flow, N for a throttled one, null when unlimited. */
  flowLimit(flowConfigId: string): number | null {
    const q = this.flowById(this.instances.flowConfig(flowConfigId)?.flowId ?? "")?.queueConfig;
    return !q ? null : q.usesFifoQueue ? 1 : q.concurrencyLimit;
  }

  /**
   * Backpressure on webhooks: while as many executions wait in the queue as may run at once, a
   * new webhook waits (holding its connection) instead of growing the queue, so acceptance keeps
   * pace with completion. Webhooks let in but not queued yet count as waiting: many arriving at
   * once, or let in together, would otherwise all see the same room. Past ten times the cap (only
   * schedules, deploys and cross-flow calls grow the queue that far) webhooks are refused with
   * 429. Cross-flow calls never wait here: their caller may be holding a slot.
   */
  admit(headers: Record<string, string>): Admission {
    if (this.stopping || headerValue(headers, "prismatic-invoke-type") === "Cross Flow") return { wait: null, release: () => {} };
    if (this.queue.length >= 10 * this.options.maxConcurrency) {
      throw new TriggerRefused(429, `${this.queue.length} executions are queued, over ten times --max-concurrency (${this.options.maxConcurrency}); retry later`);
    }
    let holding = false;
    const take = () => ((holding = true), this.admitted++);
    const release = () => {
      if (!holding) return;
      holding = false;
      this.admitted--;
      this.letHeldWebhooksIn();
    };
    if (this.roomWaiters.length === 0 && this.queue.length + this.admitted < this.options.maxConcurrency) {
      take();
      return { wait: null, release };
    }
    return { wait: new Promise((resolve) => this.roomWaiters.push(() => (take(), resolve()))), release };
  }

  /** Executions accepted before a stop but never started run now, in the order they arrived. */
  private async requeueRecovered(): Promise<void> {
    const ids = this.recovered;
    this.recovered = [];
    for (const id of ids) {
      const record = this.store.executions.get(id);
      const request = record?.request && (await this.store.readBlob(record, record.request));
      if (!record || !request) {
        if (record) this.endWithoutWorker(record.id, "the stored request payload could not be read");
        continue;
      }
      this.queue.push({ record, request, synchronous: false, worker: null, slot: 0, version: 0, deadline: 0, background: false });
    }
    this.pump();
  }

  private dispatch(p: Pending): void {
    const x = p.record;
    const fc = this.instances.flowConfig(x.scope.flowConfigId);
    const instance = fc && this.instances.instance(fc.instanceId);
    const flow = fc && this.flowById(fc.flowId);
    if (!fc || !instance || !flow) return this.endWithoutWorker(x.id, "its flow, flow config or instance no longer exists", p);
    const { w, version, contextKey, slot } = this.prepare(fc, instance, flow);
    const state = this.persistedState(x.scope);
    w.send({ t: "run", id: x.id, slot, version, contextKey, triggerKey: flow.triggerKey, executionKey: flow.executionKey, synchronous: p.synchronous, startedAt: x.startedAt, request: p.request, state, errorConfig: flow.errorConfig });
    w.running.add(x.id);
    w.unstarted.add(x.id);
    w.slots.set(slot, x.id);
    this.runningByFlowConfig.set(fc.id, (this.runningByFlowConfig.get(fc.id) ?? 0) + 1);
    if (p.background) this.runningBackground++;
    p.worker = w;
    p.slot = slot;
    p.version = version;
    p.context = { key: contextKey, base: this.contextBase(contextKey, fc, instance, flow) };
    p.deadline = Date.now() + this.options.executionTimeoutS * 1000;
    this.running.set(x.id, p);
  }

  /** Picks a worker for code of a flow config's flow, with the current build and the context loaded. */
  private prepare(fc: FlowConfig, instance: Instance, flow: FlowDefinition): { w: PoolWorker; version: number; contextKey: string; slot: number } {
    const version = this.integration!.meta.versionNumber;
    const w = this.pool.pick();
    if (!w.versions.has(version)) {
      w.send({ t: "load", version, file: this.bundleFile! });
      w.versions.add(version);
    }
    const contextKey = contextKeyOf(fc.id, version, this.contextRevision);
    if (!w.contexts.has(contextKey)) {
      w.send({ t: "context", key: contextKey, base: this.contextBase(contextKey, fc, instance, flow) });
      w.contexts.add(contextKey);
    }
    const slot = (this.lastSlot = (this.lastSlot % 2_000_000_000) + 1);
    return { w, version, contextKey, slot };
  }

  /**
   * Runs a flow's lifecycle hook for an instance in a worker; resolves with its error, or null.
   * A hook gets the execution time limit too: past it the deploy or removal goes on without it.
   */
  runHook(instanceId: string, flow: FlowDefinition, hook: HookName): Promise<string | null> {
    const instance = this.instances.instance(instanceId);
    const fc = instance && this.integration && this.instances.flowConfigOf(instanceId, this.integration.meta.flowIds[flow.stableKey]);
    if (!instance || !fc || !flow.triggerKey) return Promise.resolve(`internal: flow "${flow.name}" has no ${hook} for instance ${instanceId}`);
    const { w, version, contextKey, slot } = this.prepare(fc, instance, flow);
    const requestId = ++this.lastHook;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(`it did not finish within the time limit of ${this.options.executionTimeoutS} s (--execution-timeout)`), this.options.executionTimeoutS * 1000);
      const done = (error: string | null) => {
        clearTimeout(timer);
        this.hooks.delete(requestId);
        resolve(error);
      };
      const scope = { integrationId: instance.integrationId, instanceId, flowId: fc.flowId };
      this.hooks.set(requestId, { worker: w, version, scope, done });
      w.send({ t: "hook", requestId, slot, version, contextKey, triggerKey: flow.triggerKey!, hook, state: this.persistedState(scope) });
    });
  }

  private contextBase(key: string, fc: FlowConfig, instance: Instance, flow: FlowDefinition): ContextBase {
    let base = this.contexts.get(key);
    if (base) return base;
    const { meta, definition } = this.integration!;
    const customer = this.instances.customer(instance.customerId)!;
    const webhookUrls: Record<string, string> = {};
    const webhookApiKeys: Record<string, string[]> = {};
    for (const other of this.instances.flowConfigsOf(instance.id)) {
      const f = this.flowById(other.flowId);
      if (!f) continue;
      webhookUrls[f.name] = this.webhookUrl(other.id);
      // What invokeFlow sends as Api-Key (spectral-runtime.md §5): a key the callee's security takes.
      webhookApiKeys[f.name] = f.endpointSecurityType === "customer_required" ? other.apiKeys : f.endpointSecurityType === "organization" ? f.organizationApiKeys : [];
    }
    const user = localUser();
    const configVars: Record<string, unknown> = {};
    const missingConfigVars: string[] = [];
    for (const v of definition.configVars) {
      const raw = instance.configValues[v.key] ?? v.defaultValue;
      if (raw === null || raw === undefined || raw === "") missingConfigVars.push(v.key);
      configVars[v.key] = configVarValue(v, raw ?? null);
    }
    base = {
      configVars,
      missingConfigVars,
      customer: { id: customer.id, externalId: customer.externalId, name: customer.name },
      instance: { id: instance.id, name: instance.name },
      user: { id: user.id, email: user.email, name: user.name, externalId: user.name },
      integration: { id: meta.id, name: meta.name, versionSequenceId: meta.id, externalVersion: String(meta.versionNumber) },
      flow: { id: fc.flowId, name: flow.name, stableId: flow.stableKey },
      webhookUrls,
      unknownFlowUrl: `${this.baseUrl}/trigger/${UNKNOWN_FLOW}`,
      webhookApiKeys,
      runnerAllocatedMemoryMb: this.options.memoryLimitMb,
    };
    this.contexts.set(key, base);
    return base;
  }

  // ---------------------------------------------------------------- retries
  /**
   * retryConfig (spectral-runtime.md §7): a failed asynchronous execution runs again as a new
   * execution linked to the first attempt, delayMinutes later (doubling with exponential
   * backoff), up to maxAttempts times. Pending retries live in memory: a restart drops them.
   */
  private scheduleRetry(x: ExecutionRecord): void {
    const flow = this.flowById(x.scope.flowId);
    const rc = flow?.retryConfig;
    const attempt = (x.links?.retryCount ?? 0) + 1;
    if (!rc || attempt > rc.maxAttempts) return;
    const original = x.links?.retryOf ?? x.id;
    const delayMs = rc.delayMinutes * 60_000 * (rc.usesExponentialBackoff ? 2 ** (attempt - 1) : 1);
    const retry = async () => {
      this.retries.delete(original);
      const bytes = x.request && (await this.store.readBlob(x, x.request));
      if (!bytes || this.stopping) return;
      await this.invoke(x.scope.flowConfigId, decodeRequest(bytes), x.invokeType, { retryOf: original, retryCount: attempt }, true).catch((err) => {
        if (!(err instanceof TriggerRefused)) throw err;
        this.store.appendLogs(x.id, JSON.stringify({ at: Date.now(), severity: "WARN", stepName: null, executionId: x.id, message: `Retry ${attempt} not started: ${err.message}` }) + "\n");
      });
    };
    const timer = setTimeout(() => void retry(), delayMs);
    timer.unref();
    const uniqueId = rc.uniqueRequestIdField ? this.requestField(x, rc.uniqueRequestIdField) : undefined;
    this.retries.set(original, { timer, flowConfigId: x.scope.flowConfigId, uniqueId });
  }

  /**
   * A new request whose uniqueRequestIdField value matches a failed execution's cancels that
   * execution's pending retry: the newer request supersedes it.
   */
  private async supersedeRetries(flowConfigId: string, uniqueId: string, by: string): Promise<void> {
    for (const [original, pending] of this.retries) {
      if (pending.flowConfigId !== flowConfigId || (await pending.uniqueId) !== uniqueId || !this.retries.has(original)) continue;
      clearTimeout(pending.timer);
      this.retries.delete(original);
      this.store.appendLogs(original, JSON.stringify({ at: Date.now(), severity: "INFO", stepName: null, executionId: original, message: `Pending retry canceled: a newer request with the same unique request id (${uniqueId}) arrived as execution ${by}` }) + "\n");
    }
  }

  private async requestField(x: ExecutionRecord, field: string): Promise<string | undefined> {
    const bytes = x.request && (await this.store.readBlob(x, x.request));
    return bytes ? payloadField(decodeRequest(bytes), field) : undefined;
  }

  // ---------------------------------------------------------------- state
  /** The persisted state an execution (or hook) of a flow of an instance starts with; null when it has none. */
  private persistedState(scope: StateScope): PersistedState | null {
    if (this.state.size === 0) return null;
    const keys = stateKeys(scope.integrationId, scope.instanceId, scope.flowId);
    const [instanceState, crossFlowState, integrationState] = [this.state.get(keys.instanceState), this.state.get(keys.crossFlowState), this.state.get(keys.integrationState)];
    return instanceState || crossFlowState || integrationState ? { instanceState: instanceState ?? {}, crossFlowState: crossFlowState ?? {}, integrationState: integrationState ?? {} } : null;
  }

  /** What a successful execution (or hook) left; last writer wins. */
  private persistState(scope: StateScope, state: PersistedState): void {
    const keys = stateKeys(scope.integrationId, scope.instanceId, scope.flowId);
    for (const k of ["instanceState", "crossFlowState", "integrationState"] as const) {
      if (JSON.stringify(state[k]) !== JSON.stringify(this.state.get(keys[k]) ?? {})) this.state.set(keys[k], state[k]);
    }
  }

  // ---------------------------------------------------------------- what workers report
  private fromWorker(w: PoolWorker, messages: FromWorker[]): void {
    let startedSome = false; // the worker may be sent more (pool.ts, UNSTARTED_PER_WORKER)
    for (const m of messages) {
      switch (m.t) {
        case "loaded":
          w.loading.delete(m.version);
          this.loads.get(`${w.id}:${m.version}`)?.(m);
          this.loads.delete(`${w.id}:${m.version}`);
          break;
        case "started": {
          const p = this.running.get(m.id);
          if (p && !p.canceled) this.store.started(m.id, m.at, p.version);
          if (w.unstarted.delete(m.id)) startedSome = true;
          break;
        }
        case "logs":
          if (m.id === null || !this.running.get(m.id)?.canceled) this.store.appendLogs(m.id, m.lines);
          break;
        case "step": {
          const p = this.running.get(m.id);
          if (!p || p.canceled) break;
          if (m.result) this.store.stepResult(m.id, m.stepName, m.result, m.startedAt, m.endedAt, m.hasError);
          else this.store.payloadStep(m.id, p.context!.key, p.context!.base, m.startedAt, m.endedAt);
          if (m.stepName === "onTrigger" && !m.hasError && p.onTrigger) p.onTrigger(m.response);
          break;
        }
        case "ended": {
          const p = this.running.get(m.id);
          if (p && !p.canceled && m.state) this.persistState(p.record.scope, m.state);
          this.finish(m.id, m.error, m.response, m.at);
          break;
        }
        case "hookDone": {
          const hook = this.hooks.get(m.requestId);
          if (hook && m.state) this.persistState(hook.scope, m.state);
          hook?.done(m.error);
          if (hook) this.unloadIfUnused(hook.worker, hook.version);
          break;
        }
        case "fatal":
          break; // the pool keeps it as the worker's stop reason
      }
    }
    if (startedSome) this.pump();
  }

  private finish(id: string, error: string | null, response?: FlowResponse, at = Date.now()): void {
    const p = this.running.get(id);
    if (!p) return;
    this.running.delete(id);
    p.worker?.running.delete(id);
    p.worker?.unstarted.delete(id);
    p.worker?.slots.delete(p.slot);
    this.dedupeKeys.delete(id);
    if (p.released) this.canceledRunning--;
    else this.releaseSlots(p);
    if (!p.canceled) this.store.ended(id, error ? "ERROR" : "SUCCESS", error ? "ERROR" : "COMPLETED", error, at);
    if (error && !p.canceled && !p.synchronous) this.scheduleRetry(p.record);
    p.onEnd?.({ error, response });
    if (p.worker) this.unloadIfUnused(p.worker, p.version);
    if (!p.canceled) this.emit("execution", p.record);
    this.pump();
  }

  private releaseSlots(p: Pending): void {
    if (!p.worker || p.released) return;
    p.released = true;
    const fcId = p.record.scope.flowConfigId;
    this.runningByFlowConfig.set(fcId, this.runningByFlowConfig.get(fcId)! - 1);
    if (p.background) this.runningBackground--;
  }

  /**
   * Frees a build a worker no longer needs (its module, source map and context bases): one older
   * than the current build, once nothing of it runs there. Each rebuild used to leave ~18 MB behind.
   */
  private unloadIfUnused(w: PoolWorker, version: number): void {
    if (version === this.integration?.meta.versionNumber || !w.versions.has(version)) return;
    if ([...w.running].some((id) => this.running.get(id)?.version === version)) return;
    if ([...this.hooks.values()].some((h) => h.worker === w && h.version === version)) return;
    w.send({ t: "unload", version });
    w.versions.delete(version);
    for (const key of w.contexts) if (contextVersion(key) === version) w.contexts.delete(key);
  }

  /** Ends an execution the runtime could not hand to (or get back from) a worker. */
  private endWithoutWorker(id: string, error: string, p?: Pending): void {
    if (p) this.running.set(id, p);
    if (!this.running.get(id)?.canceled) this.store.endedInError(id, error);
    if (this.running.has(id)) this.finish(id, error);
  }

  private workerStopped(w: PoolWorker, stop: WorkerStop): void {
    for (const hook of this.hooks.values()) if (hook.worker === w) hook.done(`its worker stopped: ${stop.reason}`);
    for (const [key, answer] of this.loads) {
      if (!key.startsWith(`${w.id}:`)) continue;
      this.loads.delete(key);
      answer({ t: "loaded", version: 0, ok: false, error: `the worker stopped while loading: ${stop.reason}` });
    }
    const ids = [...w.running];
    const culprit = stop.culprit ?? (ids.length === 1 && !stop.noCulprit ? ids[0] : null);
    if (culprit && !ids.includes(culprit) && this.store.executions.has(culprit)) {
      // Its code outlived it (a timer, a promise it did not wait for): its record says what that code did.
      this.store.runtimeError(culprit, `After the execution ended, its code stopped its worker: ${stop.reason}`);
    }
    for (const id of ids) {
      const error =
        id === culprit
          ? `The execution stopped its worker: ${stop.reason}`
          : culprit
            ? `Its worker was stopped by execution ${culprit}: ${stop.reason}`
            : `Its worker stopped while ${ids.length} executions ran in it: ${stop.reason}`;
      this.endWithoutWorker(id, error);
    }
  }

  /**
   * Ends a worker once one of its executions passes the time limit. JavaScript cannot be stopped
   * inside a thread, so the worker goes; when another execution's code is holding the thread
   * (it has not yielded since the last look), that one is named as the cause.
   */
  private enforceTimeLimits(): void {
    const now = Date.now();
    const limit = `the time limit of ${this.options.executionTimeoutS} s (--execution-timeout)`;
    for (const w of this.pool.workers) {
      const blocker = w.blockedBy();
      if (w.stop) continue;
      // A build whose top-level code never returns would hold its worker, and every build after it.
      const loadLimitMs = this.buildsWaiting > 0 ? SUPERSEDED_LOAD_MS : Math.min(LOAD_TIME_LIMIT_MS, this.options.executionTimeoutS * 1000);
      const stuckLoad = [...w.loading].find(([, since]) => now - since > loadLimitMs);
      if (stuckLoad) {
        const why = this.buildsWaiting > 0 ? `had not finished after ${SUPERSEDED_LOAD_MS / 1000} s, and a newer build waits` : `did not finish within ${loadLimitMs / 1000} s`;
        this.pool.terminate(w, { culprit: null, noCulprit: true, reason: `loading build ${stuckLoad[0]} ${why}: the integration's top-level code or integration() never returned` });
        continue;
      }
      const late = [...w.running].find((id) => now > this.running.get(id)!.deadline);
      if (!late) continue;
      this.pool.terminate(
        w,
        blocker && blocker !== late
          ? { culprit: blocker, reason: `its code held the worker's thread without yielding, so execution ${late} could not finish within ${limit}` }
          : { culprit: late, reason: `it exceeded ${limit}` },
      );
    }
  }

  get runningCount(): number {
    return this.running.size - this.canceledRunning;
  }

  get queuedCount(): number {
    return this.queue.length + this.backlog.length;
  }

  // ---------------------------------------------------------------- stopping
  /** Stops accepting, gives running executions up to `graceMs`, ends the rest as stopped. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const admit of this.roomWaiters.splice(0)) admit(); // they are refused with 503
    clearInterval(this.sweep);
    clearInterval(this.retention);
    for (const r of this.retries.values()) clearTimeout(r.timer);
    this.lifecycle.stop();
    await this.loader.stop();
    await this.storeLoaded;
    const deadline = Date.now() + graceMs;
    while (this.running.size > this.canceledRunning && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const id of [...this.running.keys()]) this.endWithoutWorker(id, STOPPED_BEFORE_FINISH);
    await Promise.all([this.pool.close(), this.scans.close()]);
    await this.store.close();
    await this.state.close();
  }
}
