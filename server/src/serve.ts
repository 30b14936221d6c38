import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { BlobSigner } from "./http/blobs";
import { createHttpServer, listen } from "./http/server";
import { BuildState, Runtime } from "./runtime/runtime";
import { ExecutionRecord } from "./store/executions";
import { MetadataError } from "./store/metadata";

export interface ServeOptions {
  workspace: string;
  port: number;
  /** The port was not given: when it is taken, use the next free one. */
  portIsDefault: boolean;
  host: string;
  dataDir: string;
  token?: string;
  executionTimeoutS: number;
  syncTimeoutS: number;
  memoryLimitMb: number;
  workers: number;
  maxBodyMb: number;
  maxConcurrency: number;
  maxChainDepth: number;
  retentionDays: number;
  /** Extra Host names `/results` accepts (a tunnel's). */
  allowedHosts: string[];
  entry?: string;
  json: boolean;
  workerScript: string;
}

/** `refract serve`'s defaults (INTERFACES.md §1); its flags override them. */
export const SERVE_DEFAULTS = {
  port: 7780,
  host: "127.0.0.1",
  executionTimeoutS: 900,
  syncTimeoutS: 30,
  memoryLimitMb: 1024,
  workers: 2,
  maxBodyMb: 6,
  maxConcurrency: 500,
  maxChainDepth: 20,
  retentionDays: 14,
} as const;

/** The range each numeric option takes, whether it comes from a flag or an editor setting. */
export const SERVE_LIMITS = {
  port: [0, 65_535],
  executionTimeoutS: [1, 86_400],
  syncTimeoutS: [1, 3600],
  memoryLimitMb: [32, 65_536],
  workers: [1, 64],
  maxBodyMb: [1, 1024],
  maxConcurrency: [1, 100_000],
  maxChainDepth: [1, 1000],
  retentionDays: [1, 36_500],
} as const satisfies Partial<Record<keyof typeof SERVE_DEFAULTS, readonly [number, number]>>;

/** A problem that ends `serve` with exit code 1 and this message. */
export class ServeError extends Error {
  /** Set when the listening address is what failed (it does not resolve, or is not this machine's). */
  hostFailed = false;
}

/** How `listen` fails when the host, not the port, is wrong. */
const HOST_ERRORS = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EADDRNOTAVAIL", "EAFNOSUPPORT"]);

/** An API token: 8 to 512 printable characters without spaces (it travels in a header). */
export const TOKEN_PATTERN = /^[\x21-\x7e]{8,512}$/;

export interface Served {
  url: string;
  /** The port it listens on (a URL would hide port 80). */
  port: number;
  token: string;
  runtime: Runtime;
  /** Signs the blob URLs the API hands out. */
  blobs: BlobSigner;
  stop: () => Promise<void>;
}

/** `refract serve`: lock the data dir, listen, build, deploy the system instance, print the ready output. */
export async function serve(o: ServeOptions, out: (line: string) => void = stdoutLines()): Promise<Served> {
  if (!fs.existsSync(o.workspace) || !fs.statSync(o.workspace).isDirectory()) throw new ServeError(`The workspace ${o.workspace} is not a folder`);
  try {
    makeDir(o.dataDir);
    fs.accessSync(o.dataDir, fs.constants.W_OK);
  } catch (err) {
    throw new ServeError(`Cannot use ${o.dataDir} as the data dir: ${(err as Error).message}`);
  }
  const releaseLock = acquireLock(o.dataDir);
  try {
    const token = o.token ?? persistedToken(o.dataDir);
    const runtime = newRuntime({
      workspace: o.workspace,
      dataDir: o.dataDir,
      entry: o.entry,
      workerScript: o.workerScript,
      workers: o.workers,
      memoryLimitMb: o.memoryLimitMb,
      executionTimeoutS: o.executionTimeoutS,
      maxConcurrency: o.maxConcurrency,
      maxChainDepth: o.maxChainDepth,
      retentionDays: o.retentionDays,
    });
    const blobs = new BlobSigner(token);
    const { server, warm } = createHttpServer(runtime, { maxBodyBytes: o.maxBodyMb * 1024 * 1024, syncTimeoutMs: o.syncTimeoutS * 1000, blobs, token, host: o.host, allowedHosts: o.allowedHosts });
    let port: number;
    try {
      port = await listen(server, o.host, o.port, o.portIsDefault);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const failed = new ServeError(e.code === "EADDRINUSE" ? `Port ${o.port} on ${o.host} is already in use; pick another with --port (0 for any free port)` : `Cannot listen on ${o.host}:${o.port}: ${e.message}`);
      failed.hostFailed = HOST_ERRORS.has(e.code ?? "");
      throw failed;
    }
    if (port !== o.port && o.port !== 0) process.stderr.write(`refract: port ${o.port} is taken; using ${port}\n`);
    const url = `http://${o.host.includes(":") ? `[${o.host}]` : o.host}:${port}`;
    runtime.baseUrl = url;
    rewriteLock(o.dataDir, { pid: process.pid, url });
    warnIfNotIgnored(o);

    // The API's schema is built while the integration is bundled and loaded (the main thread
    // only waits for esbuild and the workers then), so that the first queries after the ready line,
    // an editor's views filling, do not wait for it.
    setImmediate(warm);
    await runtime.start();
    printReady(o, out, runtime, url, token);
    runtime.on("build", buildPrinter(o, out, runtime));
    runtime.on("execution", (x: ExecutionRecord) => printExecution(o, out, x));

    const stats = startStats(runtime);
    const stop = async () => {
      if (stats) clearInterval(stats);
      server.close();
      server.closeIdleConnections();
      await runtime.stop();
      server.closeAllConnections();
      releaseLock();
    };
    return { url, port, token, runtime, blobs, stop };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

function newRuntime(options: ConstructorParameters<typeof Runtime>[0]): Runtime {
  try {
    return new Runtime(options);
  } catch (err) {
    throw err instanceof MetadataError ? new ServeError(err.message) : err;
  }
}

// ---------------------------------------------------------------- output (INTERFACES.md §1)
/**
 * Lines to stdout, gathered for up to OUTPUT_DELAY_MS: a write to a pipe is a synchronous system
 * call that also wakes the reader, and a busy server ends an execution every few dozen
 * microseconds. What is still gathered when the process exits is written then.
 */
function stdoutLines(): (line: string) => void {
  let pending = "";
  const write = () => {
    process.stdout.write(pending);
    pending = "";
  };
  process.on("exit", () => pending && write());
  return (line) => {
    if (!pending) setTimeout(write, OUTPUT_DELAY_MS);
    pending += line + "\n";
  };
}
const OUTPUT_DELAY_MS = 10;

function integrationsSummary(runtime: Runtime) {
  const current = runtime.integration;
  if (!current) return [];
  const system = runtime.instances.systemInstance(current.meta.id);
  const flowConfigs = system ? runtime.instances.flowConfigsOf(system.id) : [];
  return [
    {
      id: current.meta.id,
      name: current.meta.name,
      versionNumber: current.meta.versionNumber,
      build: { ok: runtime.build.ok, error: runtime.build.error },
      flows: current.definition.flows.map((f) => {
        const flowId = current.meta.flowIds[f.stableKey];
        const fc = flowConfigs.find((c) => c.flowId === flowId);
        return { id: flowId, name: f.name, stableKey: f.stableKey, triggerKind: f.triggerKind, testUrl: fc ? runtime.webhookUrl(fc.id) : null };
      }),
    },
  ];
}

function printReady(o: ServeOptions, out: (l: string) => void, runtime: Runtime, url: string, token: string): void {
  const integrations = integrationsSummary(runtime);
  // The fragment never reaches a server; the page keeps the token in sessionStorage.
  const uiUrl = `${url}/ui#token=${encodeURIComponent(token)}`;
  if (o.json) {
    out(JSON.stringify({ event: "ready", url, apiUrl: `${url}/api`, token, uiUrl, integrations, ...(integrations.length ? {} : { build: { ok: false, error: runtime.build.error } }) }));
    return;
  }
  out(`Refract listening on ${url}`);
  out(`API token: ${token}`);
  out(`Browser UI: ${uiUrl}`);
  if (integrations.length === 0) out(`No integration loaded: ${runtime.build.error}`);
  for (const i of integrations) {
    out(`${i.name} (version ${i.versionNumber}): ${i.build.ok ? "build ok" : `build failed, serving version ${i.versionNumber}: ${i.build.error}`}`);
    const width = Math.max(...i.flows.map((f) => f.name.length));
    for (const f of i.flows) out(`  ${f.name.padEnd(width)}  ${f.triggerKind.padEnd(15)}  ${f.testUrl ?? ""}`);
  }
}

/** Prints each build; in text, with the test URLs of flows a rebuild added (the ready line printed the first ones). */
function buildPrinter(o: ServeOptions, out: (l: string) => void, runtime: Runtime): (b: BuildState) => void {
  const printed = new Set(integrationsSummary(runtime).flatMap((i) => i.flows.map((f) => f.id)));
  let version = runtime.build.versionNumber;
  return (b) => {
    const name = runtime.integration?.meta.name ?? null;
    if (o.json) {
      out(JSON.stringify({ event: "build", integration: runtime.integration?.meta.id ?? null, versionNumber: b.versionNumber, ok: b.ok, error: b.error }));
      return;
    }
    if (!b.ok) return out(`${name ?? "Integration"}: build failed${b.versionNumber ? `, still serving version ${b.versionNumber}` : ""}: ${b.error}`);
    // The sources can come back to the build that serves: no new version.
    out(b.versionNumber === version ? `${name}: build ok, serving version ${b.versionNumber}` : `${name}: rebuilt, now version ${b.versionNumber}`);
    version = b.versionNumber;
    for (const f of integrationsSummary(runtime).flatMap((i) => i.flows)) {
      if (printed.has(f.id)) continue;
      printed.add(f.id);
      out(`  new flow ${f.name}  ${f.triggerKind}  ${f.testUrl ?? ""}`);
    }
  };
}

function printExecution(o: ServeOptions, out: (l: string) => void, x: ExecutionRecord): void {
  const durationMs = (x.endedAt ?? Date.now()) - x.startedAt;
  if (o.json) {
    out(JSON.stringify({ event: "execution", id: x.id, flow: x.scope.flowName, instance: x.scope.instanceId, invokeType: x.invokeType, status: x.status, durationMs }));
    return;
  }
  const time = new Date(x.endedAt ?? Date.now()).toTimeString().slice(0, 8);
  out(`${time}  ${x.scope.flowName}  ${x.status}  ${durationMs} ms  ${x.id}${x.error ? `  ${x.error.split("\n")[0]}` : ""}`);
}

/**
 * Diagnostics for benchmarks and troubleshooting: with REFRACT_STATS_INTERVAL_MS set, one JSON line
 * per interval on stderr with RSS (workers included), event-loop delay and the execution counts.
 */
function startStats(runtime: Runtime): NodeJS.Timeout | null {
  const interval = Number(process.env.REFRACT_STATS_INTERVAL_MS);
  if (!(interval > 0)) return null;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const timer = setInterval(() => {
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    const memory = process.memoryUsage();
    const line = { event: "stats", at: Date.now(), rssMb: Math.round(memory.rss / 1048576), mainHeapMb: Math.round(memory.heapUsed / 1048576), externalMb: Math.round(memory.external / 1048576), eventLoopDelayP99Ms: ms(delay.percentile(99)), eventLoopDelayMaxMs: ms(delay.max), running: runtime.runningCount, queued: runtime.queuedCount };
    delay.reset();
    process.stderr.write(JSON.stringify(line) + "\n");
  }, interval);
  timer.unref();
  return timer;
}

// ---------------------------------------------------------------- data dir: lock and token
/**
 * One process per data dir: the lock names its holder; a stale lock (dead pid) is taken over.
 * Every lock file appears whole (written aside, then linked or renamed into place), so a reader
 * never takes a lock being written for a stale one; and a stale lock is removed only under
 * `lock.takeover`, itself taken exclusively, so two processes starting at once cannot both
 * remove it and then each remove the other's new lock.
 */
function acquireLock(dataDir: string): () => void {
  const file = path.join(dataDir, "lock");
  const guard = `${file}.takeover`;
  const mine = writeAside(file, { pid: process.pid });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (linked(mine, file)) {
        let released = false;
        return () => {
          if (released) return;
          released = true;
          fs.rmSync(file, { force: true });
        };
      }
      refuseIfHeld(dataDir, file);
      if (!linked(mine, guard)) {
        // Another process is taking the stale lock over right now, or died doing so.
        refuseIfHeld(dataDir, guard, "is being taken over by");
        fs.rmSync(guard, { force: true });
        continue;
      }
      try {
        refuseIfHeld(dataDir, file); // looked at again now that no one else can remove it
        try {
          fs.rmSync(file, { force: true });
        } catch (err) {
          throw new ServeError(`Cannot lock ${dataDir}: ${file} is not a lock Refract can remove (${(err as Error).message}); move it away`);
        }
      } finally {
        fs.rmSync(guard, { force: true });
      }
    }
    throw new ServeError(`Cannot lock ${dataDir}: another refract keeps taking it over`);
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

/**
 * `mkdir -p`. Node 20's own (`recursive: true`) never returns on a path whose parent exists but
 * refuses it with ENOENT, such as one under /proc: here the second ENOENT is thrown.
 */
function makeDir(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && fs.statSync(dir).isDirectory()) return;
    if (code !== "ENOENT" || path.dirname(dir) === dir) throw err;
    makeDir(path.dirname(dir));
    fs.mkdirSync(dir);
  }
}

/** The lock's new content, once the server listens (its URL): replaced whole, never seen empty. */
function rewriteLock(dataDir: string, content: { pid: number; url: string }): void {
  const file = path.join(dataDir, "lock");
  fs.renameSync(writeAside(file, content), file);
}

function writeAside(file: string, content: object): string {
  const aside = `${file}.${process.pid}`;
  fs.writeFileSync(aside, JSON.stringify(content));
  return aside;
}

/** Links `from` at `to` unless something is there already (an atomic create, whole). */
function linked(from: string, to: string): boolean {
  try {
    try {
      fs.linkSync(from, to);
    } catch (err) {
      // A file system without hard links: an exclusive create, then the content.
      if (!["EPERM", "ENOTSUP", "ENOSYS"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
      fs.writeFileSync(to, fs.readFileSync(from), { flag: "wx" });
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new ServeError(`Cannot lock ${path.dirname(to)}: ${(err as Error).message}`);
  }
}

/** Throws if `file` names a live process other than this one (a missing or unreadable file names none). */
function refuseIfHeld(dataDir: string, file: string, doing = "is in use by"): void {
  let holder: { pid?: number; url?: string } = {};
  try {
    holder = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    // gone meanwhile, or a lock from before locks were written whole, torn by a crash: stale
  }
  const pid = holder.pid;
  if (typeof pid === "number" && Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
    throw new ServeError(
      `The data dir ${dataDir} ${doing} another refract (pid ${pid}${holder.url ? `, ${holder.url}` : ""}); stop it or use another data dir (if no refract runs there, delete ${file})`,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function persistedToken(dataDir: string): string {
  const file = path.join(dataDir, "token");
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new ServeError(`${file} cannot be read (${(err as Error).message}): repair it, or delete it for a new token`);
  }
  if (text !== null) {
    // Refract writes it whole (below), so an empty one is not Refract's either: scripts and blob
    // URLs rely on it, and a silent new token would break them all.
    const token = text.trim();
    if (!TOKEN_PATTERN.test(token)) throw new ServeError(`The token in ${file} ${token ? "is not 8 to 512 printable characters without spaces" : "is empty"}: correct it, or delete the file for a new one`);
    fs.chmodSync(file, 0o600); // the token is the API's only key
    return token;
  }
  const token = randomBytes(24).toString("base64url");
  const aside = `${file}.${process.pid}`;
  fs.writeFileSync(aside, token + "\n", { mode: 0o600 });
  fs.renameSync(aside, file);
  return token;
}

/** The default data dir belongs in the workspace's .gitignore; say so, never edit it. */
function warnIfNotIgnored(o: ServeOptions): void {
  if (path.resolve(o.dataDir) !== path.resolve(o.workspace, ".refract")) return;
  const gitignore = path.join(o.workspace, ".gitignore");
  const lines = fs.existsSync(gitignore) ? fs.readFileSync(gitignore, "utf8").split(/\r?\n/).map((l) => l.trim()) : [];
  if (!lines.some((l) => /^\/?\.refract\/?$/.test(l))) {
    process.stderr.write(`refract: hint: add .refract/ to ${gitignore} (it holds executions, logs and the API token)\n`);
  }
}
