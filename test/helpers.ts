import { ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { decode } from "@msgpack/msgpack";
import { SERVE_DEFAULTS, Served, ServeOptions, serve } from "../server/src/serve";
import { ExecutionRecord, StepRecord } from "../server/src/store/executions";

export const ROOT = path.resolve(__dirname, "..");
export const CLI = path.join(ROOT, "dist", "cli.js");
const WORKER = path.join(ROOT, "dist", "worker.js");
/** Inside the repository, so fixtures resolve @prismatic-io/spectral from its node_modules. */
const TMP = path.join(ROOT, ".test-tmp");

/** A fresh copy of a fixture workspace (tests may edit it). */
export function copyFixture(name: string): string {
  const dir = path.join(TMP, `${name} ${randomUUID().slice(0, 8)}`); // a space, as users have
  fs.cpSync(path.join(ROOT, "test", "fixtures", name), dir, { recursive: true });
  return dir;
}

export function tmpDir(label: string): string {
  const dir = path.join(TMP, `${label}-${randomUUID().slice(0, 8)}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export interface TestServer extends Served {
  workspace: string;
  dataDir: string;
  lines: string[];
  /** Test webhook URL of each flow, by flow name. */
  flows: Record<string, string>;
  waitForEnd(id: string, timeoutMs?: number): Promise<ExecutionRecord>;
  step(x: ExecutionRecord, name: StepRecord["stepName"]): Promise<{ data: unknown; contentType?: string }>;
  /** POSTs a GraphQL document to /api with the token. */
  api(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
  /** The `data` of a GraphQL document; fails the test when the answer has `errors`. */
  data(query: string, variables?: Record<string, unknown>): Promise<any>;
}

/** `refract serve` in this process (real HTTP, real workers), with test-friendly defaults. */
export async function startServer(workspace: string, overrides: Partial<ServeOptions> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? path.join(workspace, ".refract");
  const lines: string[] = [];
  const served = await serve(
    { ...SERVE_DEFAULTS, workspace, port: 0, portIsDefault: false, dataDir, memoryLimitMb: 256, allowedHosts: [], json: true, workerScript: WORKER, ...overrides },
    (line) => lines.push(line),
  );
  const ready = JSON.parse(lines[0]);
  const flows: Record<string, string> = {};
  for (const f of ready.integrations[0]?.flows ?? []) flows[f.name] = f.testUrl;
  const store = served.runtime.store;
  const server: TestServer = {
    ...served,
    workspace,
    dataDir,
    lines,
    flows,
    waitForEnd: (id, timeoutMs = 20_000) =>
      waitFor(() => {
        const x = store.executions.get(id);
        return x && x.endedAt !== null ? x : undefined;
      }, timeoutMs),
    async step(x, name) {
      const s = x.steps.find((st) => st.stepName === name);
      if (!s) throw new Error(`execution has no ${name} step result`);
      return decode((await store.readStepResult(x, s))!) as { data: unknown; contentType?: string };
    },
    async api(query, variables = {}, headers = {}) {
      const res = await postJson(`${served.url}/api`, { query, variables }, { authorization: `Bearer ${served.token}`, ...headers });
      return { status: res.status, json: res.json };
    },
    async data(query, variables = {}) {
      const { status, json } = await server.api(query, variables);
      if (status !== 200 || json?.errors) throw new Error(`GraphQL answered ${status}: ${JSON.stringify(json?.errors ?? json)}`);
      return json.data;
    },
  };
  return server;
}

/**
 * A full disk for this process's appends (AppendFile writes with writevSync, and only it does):
 * each write writes `bytesBefore` bytes at most, then fails with ENOSPC, until the returned
 * function empties the disk again.
 */
export function fillDisk(bytesBefore = 0): () => void {
  const nodeFs: typeof fs = require("node:fs"); // the module itself: `import * as` gives a read-only copy
  const real = nodeFs.writevSync;
  let room = bytesBefore;
  nodeFs.writevSync = ((fd: number, buffers: NodeJS.ArrayBufferView[], position?: number) => {
    if (room > 0) {
      const first = Buffer.from(buffers[0].buffer, buffers[0].byteOffset, Math.min(room, buffers[0].byteLength));
      const written = real(fd, [first], position);
      room -= written;
      return written;
    }
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write" });
  }) as typeof real;
  return () => {
    nodeFs.writevSync = real;
  };
}

export async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function post(url: string, body: string | Buffer | undefined, headers: Record<string, string> = {}, method = "POST") {
  const res = await fetch(url, { method, body, headers });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * A request sent exactly as given: its Host and Origin headers, and `path` as the request target
 * without normalising (fetch sets Host itself and resolves `..`). Defaults: POST to the URL's path.
 */
export function rawRequest(url: string, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: options.path ?? pathname + search, method: options.method ?? "POST", headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

export const postJson = (url: string, value: unknown, headers: Record<string, string> = {}) =>
  post(url, JSON.stringify(value), { "content-type": "application/json", ...headers });

/** `refract serve` as a child process, for what only a real process shows (signals, locks, exit codes). */
export class ServeProcess {
  readonly stdout: string[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    this.child.stdout!.on("data", (d: Buffer) => {
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop()!;
      this.stdout.push(...parts);
    });
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  line(predicate: (l: string) => boolean, timeoutMs = 30_000): Promise<string> {
    return waitFor(() => this.stdout.find(predicate), timeoutMs, "an output line");
  }

  async json(event: string, predicate: (o: any) => boolean = () => true, timeoutMs = 30_000): Promise<any> {
    const parse = (l: string) => {
      try {
        return JSON.parse(l);
      } catch {
        return undefined;
      }
    };
    const l = await this.line((l) => parse(l)?.event === event && predicate(parse(l)), timeoutMs);
    return JSON.parse(l);
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Cleans the scratch folder once the whole run is over. */
export function cleanTmp(): void {
  fs.rmSync(TMP, { recursive: true, force: true });
}
