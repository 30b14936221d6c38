// Refract runtime benchmark (`npm run bench`). Measures a bare Node http server first (the limit
// L and a latency baseline, in this very run: the machine is noisy, so only same-run ratios mean
// anything), then Refract serving bench/fixtures/trivial (L again after its saturation run, which
// is compared with the mean of the two), and prints each issue target as
// PASS/FAIL. It is a benchmark, not a test: it exits 0 when a target is missed.
//
// Every process runs apart: the bench (this file: orchestration only, idle while load runs), the
// load generator (bench/load.mjs), the bare server (bench/bare.mjs) and Refract. Each is the
// leader of its own process group so that the group, esbuild's service included, can be killed
// whatever happens here.
import { execFileSync, fork, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE = path.join(ROOT, "bench", "fixtures", "trivial");
const CLI = path.join(ROOT, "dist", "cli.js");
const BODY = JSON.stringify({ order: 1, note: "x".repeat(990) }); // ~1 KB of JSON
const TARGET_STORED = 100_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${s}\n`);

// ---------------------------------------------------------------- children
// Groups are killed even after their leader exits: a server that dies leaves esbuild's service
// behind, and that holds the server's stderr pipe open.
const groups = new Set();
function track(child) {
  groups.add(child.pid);
  return child;
}
function killGroup(pid) {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {}
}
function killAll() {
  for (const pid of groups) killGroup(pid);
}
let tmp = null; // the data dir's parent, removed however the bench ends
process.on("exit", () => {
  killAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

/** Runs one load phase in its own process; resolves with its report. */
function load(cfg) {
  return new Promise((resolve, reject) => {
    const child = track(fork(path.join(ROOT, "bench", "load.mjs"), [], { detached: true }));
    child.send({ body: BODY, ...cfg });
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`load generator exited with ${code} before reporting`)));
  });
}
const closedLoad = (url, o) => load({ mode: "closed", url, connections: 50, ...o });
const pacedLoad = (url, rate, o = {}) => load({ mode: "paced", url, rate, durationMs: 8000, warmupMs: 3000, sockets: 32, maxSockets: 256, ...o });

/** A child whose stdout and stderr are read line by line. */
function start(args, env = {}) {
  const t0 = performance.now();
  const proc = track(spawn(process.execPath, args, { cwd: ROOT, detached: true, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] }));
  const s = { proc, t0, stats: [], onLine: () => {}, exited: new Promise((r) => proc.once("exit", (code) => r(code))) };
  s.first = new Promise((resolve, reject) => {
    const lines = (stream, each) => {
      let rest = "";
      stream.on("data", (chunk) => {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop();
        parts.forEach(each);
      });
    };
    let first = true;
    lines(proc.stdout, (line) => {
      if (first) {
        first = false;
        s.readyMs = performance.now() - t0;
        return resolve(JSON.parse(line));
      }
      s.onLine(line);
    });
    lines(proc.stderr, (line) => {
      if (line.startsWith('{"event":"stats"')) s.stats.push(JSON.parse(line));
      else if (line.trim()) process.stderr.write(`    [server] ${line}\n`);
    });
    proc.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code} before its first line`)));
  });
  return s;
}

function startRefract(dataDir) {
  // The Node flags of the bin's shebang line, so that the bench measures what users run.
  const nodeFlags = fs.readFileSync(CLI, "utf8").split("\n")[0].split(/\s+/).filter((a) => a.startsWith("--"));
  const args = [...nodeFlags, CLI, "serve", FIXTURE, "--json", "--port", "0", "--data-dir", dataDir, "--workers", "2"];
  return Object.assign(start(args, { REFRACT_STATS_INTERVAL_MS: "1000" }), { isRefract: true });
}

async function stop(s) {
  // Refract installs its SIGTERM handler only after printing "ready": a SIGTERM sent at once kills
  // it outright (no graceful stop, stale lock). A stats line proves the handler is in place.
  for (let i = 0; i < 60 && s.isRefract && s.stats.length === 0; i++) await sleep(50);
  s.proc.kill("SIGTERM");
  let timer;
  const code = await Promise.race([s.exited, new Promise((r) => (timer = setTimeout(r, 20_000, "timeout")))]);
  clearTimeout(timer);
  if (code !== 0) log(`warning: the server stopped with ${code}`);
  killGroup(s.proc.pid);
}

/** Waits until the server reports nothing running, queued or unwritten (bounded). */
async function idle(s, maxMs = 60_000) {
  const from = Date.now();
  while (Date.now() - from < maxMs) {
    await sleep(500);
    const last = s.stats.at(-1);
    if (last && last.at > from + 1000 && last.running === 0 && last.queued === 0) return true;
  }
  log(`warning: the server was still busy after ${maxMs / 1000} s: ${JSON.stringify(s.stats.at(-1))}`);
  return false;
}

// Stats lines describe the second before their `at`: keep those wholly inside the window.
const statsIn = (s, w) => s.stats.filter((x) => x.at - 1000 >= w.windowStart && x.at <= w.windowEnd + 500);
/**
 * Refract may print "ready" before it has replayed its journal and go on loading in the
 * background: time from spawn until the process has been idle for two 100 ms samples in a row.
 */
async function settledMs(s) {
  let last = cpuSeconds(s.proc.pid).all;
  let quiet = 0;
  while (quiet < 2 && performance.now() - s.t0 < 30_000) {
    await sleep(100);
    const now = cpuSeconds(s.proc.pid).all;
    quiet = now - last <= 0.01 ? quiet + 1 : 0;
    last = now;
  }
  return performance.now() - s.t0 - 200;
}

/** CPU seconds used so far by a process's main thread and by the whole process (all threads). */
function cpuSeconds(pid) {
  const fields = (file) => fs.readFileSync(file, "utf8").split(") ")[1].split(" ");
  const tick = (f) => (Number(f[11]) + Number(f[12])) / 100; // utime + stime, USER_HZ = 100
  return { main: tick(fields(`/proc/${pid}/task/${pid}/stat`)), all: tick(fields(`/proc/${pid}/stat`)) };
}
/**
 * CPU seconds used by processes that are not this bench's, per pid. Another job on the same 2 cores
 * skews every figure, so the bench says how much CPU others took while it ran.
 */
function foreignCpu() {
  const out = new Map();
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      if (Number(pid) === process.pid || groups.has(Number(f[2]))) continue; // f[2]: process group
      out.set(pid, (Number(f[11]) + Number(f[12])) / 100);
    } catch {} // gone meanwhile
  }
  return out;
}
const vmHwmMb = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

/** The commit dist/ was built from, and whether server code had uncommitted changes then. */
function codeVersion() {
  try {
    const git = (...args) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "server", "protocol") ? " + uncommitted server changes" : ""}`;
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------- the journal
/**
 * Reads what the journals gained since the last call (one per UTC day folder). Between phases the
 * server is idle, so each read holds whole executions of the phase just run.
 */
const journalOffsets = new Map();
let storedExecutions = 0;
function readJournal(dataDir) {
  const root = path.join(dataDir, "executions");
  const out = { accepted: new Map(), started: new Map(), ended: [] };
  for (const day of fs.readdirSync(root).sort()) {
    const file = path.join(root, day, "journal.ndjson");
    if (!fs.existsSync(file)) continue;
    const fd = fs.openSync(file, "r");
    const from = journalOffsets.get(file) ?? 0;
    const buf = Buffer.alloc(fs.fstatSync(fd).size - from);
    fs.readSync(fd, buf, 0, buf.length, from);
    fs.closeSync(fd);
    const whole = buf.lastIndexOf(0x0a) + 1; // a line still being written waits for the next read
    journalOffsets.set(file, from + whole);
    for (const line of buf.toString("utf8", 0, whole).split("\n")) {
      if (line.startsWith('{"e":"step"') || !line) continue;
      const e = JSON.parse(line);
      // accepted entries carry the whole record as `x`, or (compact journal) their own fields
      if (e.e === "accepted") out.accepted.set(e.x?.id ?? e.id, e.x?.startedAt ?? e.startedAt), storedExecutions++;
      else if (e.e === "started") out.started.set(e.id, e.at);
      else if (e.e === "ended") out.ended.push(e.at);
    }
  }
  return out;
}

function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.floor(p * v.length))] : NaN;
}

// ---------------------------------------------------------------- phases
const perSec = (n, w) => n / ((w.windowEnd - w.windowStart) / 1000);

/** L: the bare server's requests per second with 50 connections, and its CPU per request. */
async function measureL(bare, when) {
  const url = (await bare.first).url;
  const cpu0 = cpuSeconds(bare.proc.pid).all;
  const sat = await closedLoad(url, { durationMs: 10_000, warmupMs: 2000 });
  const cpuUs = ((cpuSeconds(bare.proc.pid).all - cpu0) * 1e6) / sat.sent;
  const L = perSec(sat.windowOk, sat);
  log(`bare server, 50 connections (${when}): ${L.toFixed(0)} req/s  ${JSON.stringify(sat.statuses)}; server CPU ${cpuUs.toFixed(0)} us/request, generator CPU ${((sat.cpuMs * 1000) / sat.sent).toFixed(0)} us/request`);
  return { L, cpuUs };
}
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(2)} ms` : String(x));

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`node esbuild.mjs\` first`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "refract-bench-"));
  const dataDir = path.join(tmp, "data");
  const r = { loadavg: os.loadavg(), code: codeVersion() }; // every figure, written out as JSON at the end
  log(`measuring ${r.code}`);
  const others = foreignCpu();
  const began = Date.now();
  try {
    // -- Baseline: the bare server, saturated by 50 connections, then paced at 1,000/s.
    const bare = start([path.join(ROOT, "bench", "bare.mjs")]);
    const bareUrl = (await bare.first).url;
    const before = await measureL(bare, "before");
    r.Lbefore = before.L;
    const barePaced = await pacedLoad(bareUrl, 1000);
    r.bareP99 = barePaced.latencyMs.p99;
    log(`bare server, paced 1,000/s: p50 ${ms(barePaced.latencyMs.p50)} p99 ${ms(r.bareP99)} (send lag p99 ${ms(barePaced.sendLagMs.p99)})`);
    await stop(bare);

    // -- Refract on a fresh data dir; its start-up here is the baseline for the restart figure.
    let srv = startRefract(dataDir);
    const ready = await srv.first;
    r.firstStartMs = srv.readyMs;
    r.firstSettledMs = await settledMs(srv);
    const flows = Object.fromEntries(ready.integrations[0].flows.map((f) => [f.name, f.testUrl]));
    log(`refract ready in ${srv.readyMs.toFixed(0)} ms, idle from ${r.firstSettledMs.toFixed(0)} ms (empty data dir)`);
    await idle(srv, 5000);
    r.idleRssMb = srv.stats.at(-1).rssMb;
    // Warm the JIT of the main thread and both workers, as the bare server was by its own run.
    await closedLoad(flows.Trivial, { connections: 10, durationMs: 2000, warmupMs: 0 });
    await idle(srv);
    readJournal(dataDir);

    // -- Target 3: paced 1,000/s to Trivial, compared with the bare server above.
    const paced = await pacedLoad(flows.Trivial, 1000);
    await idle(srv);
    const j3 = readJournal(dataDir);
    const startDelays = [];
    for (const [id, acceptedAt] of j3.accepted) {
      if (acceptedAt >= paced.windowStart && acceptedAt <= paced.windowEnd && j3.started.has(id)) startDelays.push(j3.started.get(id) - acceptedAt);
    }
    r.pacedP99 = paced.latencyMs.p99;
    r.startP99 = percentile(startDelays, 0.99);
    const eld = statsIn(srv, paced);
    r.pacedEldP99 = Math.max(...eld.map((x) => x.eventLoopDelayP99Ms));
    log(`refract, paced 1,000/s: p50 ${ms(paced.latencyMs.p50)} p99 ${ms(r.pacedP99)} max ${ms(paced.latencyMs.max)} (send lag p99 ${ms(paced.sendLagMs.p99)}, ${paced.sockets} sockets) ${JSON.stringify(paced.statuses)}`);
    log(`  accepted -> first step started: p50 ${percentile(startDelays, 0.5)} ms, p99 ${r.startP99} ms over ${startDelays.length}`);
    log(`  event-loop delay per second, p99/max: ${eld.map((x) => `${x.eventLoopDelayP99Ms}/${x.eventLoopDelayMaxMs}`).join(", ")} ms`);

    // -- Target 2: Trivial paced at 100/s while ~8 Busy executions keep both workers spinning.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let busySent = 0;
    let busyEnded = 0;
    let busyOn = true;
    const topUp = () => {
      while (busyOn && busySent - busyEnded < 8) {
        busySent++;
        const req = http.request(flows.Busy, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => res.resume());
        req.on("error", (e) => log(`busy request failed: ${e.message}`));
        req.end(BODY);
      }
    };
    srv.onLine = (line) => {
      if (line.includes('"flow":"Busy"')) busyEnded++, topUp();
    };
    topUp();
    await sleep(1000); // both workers are spinning before the measurement starts
    const busyAtStart = busyEnded;
    const busyFrom = Date.now();
    const busy = await pacedLoad(flows.Trivial, 100);
    const busyRate = (busyEnded - busyAtStart) / ((Date.now() - busyFrom) / 1000);
    busyOn = false;
    srv.onLine = () => {};
    agent.destroy();
    await idle(srv);
    readJournal(dataDir);
    r.busyP99 = busy.latencyMs.p99;
    log(`refract, paced 100/s with busy workers: p50 ${ms(busy.latencyMs.p50)} p99 ${ms(r.busyP99)} max ${ms(busy.latencyMs.max)} (send lag p99 ${ms(busy.sendLagMs.p99)}) ${JSON.stringify(busy.statuses)}`);
    log(`  Busy executions ended ${busyRate.toFixed(1)}/s (2 workers x 5/s when saturated); event-loop delay p99 per second: ${statsIn(srv, busy).map((x) => x.eventLoopDelayP99Ms).join(", ")}`);

    // -- Targets 1 and 4: 50 connections flat out on Trivial.
    const cpu0 = cpuSeconds(srv.proc.pid);
    const sat = await closedLoad(flows.Trivial, { durationMs: 10_000, warmupMs: 2000 });
    r.peakRssMb = vmHwmMb(srv.proc.pid);
    const satStats = statsIn(srv, sat);
    r.maxStatsRssMb = Math.max(...satStats.map((x) => x.rssMb));
    const drained = await idle(srv);
    const cpu1 = cpuSeconds(srv.proc.pid);
    const j1 = readJournal(dataDir);
    r.mainCpuUsPerExecution = ((cpu1.main - cpu0.main) * 1e6) / j1.ended.length;
    r.processCpuUsPerExecution = ((cpu1.all - cpu0.all) * 1e6) / j1.ended.length;
    r.acceptedPerSec = perSec(sat.windowOk, sat);
    r.completedPerSec = perSec(j1.ended.filter((at) => at >= sat.windowStart && at <= sat.windowEnd).length, sat);
    log(`refract, 50 connections: accepted ${r.acceptedPerSec.toFixed(0)}/s, completed ${r.completedPerSec.toFixed(0)}/s ${JSON.stringify(sat.statuses)}${drained ? "" : " (never drained)"}`);
    log(`  CPU per execution: main thread ${r.mainCpuUsPerExecution.toFixed(0)} us, whole process ${r.processCpuUsPerExecution.toFixed(0)} us (over ${j1.ended.length} executions)`);
    log(`  per second: queued ${satStats.map((x) => x.queued).join(", ")}; event-loop delay p99 ${satStats.map((x) => x.eventLoopDelayP99Ms).join(", ")} ms; rss ${satStats.map((x) => x.rssMb).join(", ")} MB, of which main heap ${satStats.map((x) => x.mainHeapMb).join(", ")} MB`);

    // L again, right after: this VM's speed drifts by tens of percent within minutes, so the
    // saturation run is compared with the mean of a bare run on either side of it.
    const bareAgain = start([path.join(ROOT, "bench", "bare.mjs")]);
    const after = await measureL(bareAgain, "after");
    await stop(bareAgain);
    r.Lafter = after.L;
    r.L = (r.Lbefore + r.Lafter) / 2;
    r.bareCpuUsPerRequest = (before.cpuUs + after.cpuUs) / 2;
    log(`L = ${r.L.toFixed(0)} req/s, the mean of ${r.Lbefore.toFixed(0)} and ${r.Lafter.toFixed(0)}: completed ${(r.completedPerSec / r.L).toFixed(2)} L`);

    // -- Target 5: fill the data dir to 100k executions with the same load, then restart 3 times.
    const fillUntil = Date.now() + 75_000;
    while (storedExecutions < TARGET_STORED && Date.now() < fillUntil) {
      const fill = await closedLoad(flows.Trivial, { durationMs: fillUntil - Date.now(), warmupMs: 0, maxRequests: TARGET_STORED - storedExecutions + 1000 });
      await idle(srv, 90_000);
      readJournal(dataDir);
      log(`filled: ${storedExecutions} executions stored ${JSON.stringify(fill.statuses)}`);
    }
    r.peakRssAfterFillMb = vmHwmMb(srv.proc.pid);
    r.storedExecutions = storedExecutions;
    const dayDirs = fs.readdirSync(path.join(dataDir, "executions"));
    r.journalMb = dayDirs.reduce((n, d) => n + fs.statSync(path.join(dataDir, "executions", d, "journal.ndjson")).size, 0) / 1048576;
    r.restartMs = [];
    r.restartSettledMs = [];
    for (let i = 0; i < 3; i++) {
      await stop(srv);
      srv = startRefract(dataDir);
      await srv.first;
      r.restartMs.push(srv.readyMs);
      r.restartSettledMs.push(await settledMs(srv));
      log(`restart ${i + 1} with ${storedExecutions} executions (${r.journalMb.toFixed(0)} MB of journal): ready in ${srv.readyMs.toFixed(0)} ms, idle from ${r.restartSettledMs[i].toFixed(0)} ms`);
    }
    await stop(srv);
    r.restartMedianMs = percentile(r.restartMs, 0.5);
    r.restartSettledMedianMs = percentile(r.restartSettledMs, 0.5);
    let foreign = 0;
    for (const [pid, t] of foreignCpu()) foreign += t - (others.get(pid) ?? 0);
    r.foreignCpuCores = foreign / ((Date.now() - began) / 1000);
    const noisy = r.foreignCpuCores > 0.2 ? ": every figure below is skewed, run again on a quiet machine" : "";
    log(`other processes on this machine used ${r.foreignCpuCores.toFixed(2)} of its ${os.cpus().length} cores on average during the bench${noisy}`);
    report(r);
  } finally {
    killAll();
    fs.rmSync(tmp, { recursive: true, force: true });
    tmp = null;
  }
}

// ---------------------------------------------------------------- the verdict
function report(r) {
  const rows = [
    ["CPU taken by other processes", `${r.foreignCpuCores.toFixed(2)} cores`, "noise, ~0", null, null],
    ["L: bare server, 50 connections", `${r.L.toFixed(0)}/s`, `baseline (${r.Lbefore.toFixed(0)} before, ${r.Lafter.toFixed(0)} after)`, null, null],
    ["accepted/s, 50 connections", `${r.acceptedPerSec.toFixed(0)}/s`, "-", r.acceptedPerSec / r.L, null],
    ["1. completed/s, 50 connections", `${r.completedPerSec.toFixed(0)}/s`, ">= 0.25 L", r.completedPerSec / r.L, r.completedPerSec >= 0.25 * r.L],
    ["1. completed / accepted", (r.completedPerSec / r.acceptedPerSec).toFixed(2), ">= 0.95 (keeps pace)", null, r.completedPerSec >= 0.95 * r.acceptedPerSec],
    ["2. p99, 100/s, workers busy", ms(r.busyP99), "<= 10 ms", null, r.busyP99 <= 10],
    ["bare p99, paced 1,000/s", ms(r.bareP99), "baseline", null, null],
    ["3. p99, paced 1,000/s", ms(r.pacedP99), "<= 4x bare", r.pacedP99 / r.bareP99, r.pacedP99 <= 4 * r.bareP99],
    ["3. accepted -> started p99", `${r.startP99} ms`, "<= 5 ms", null, r.startP99 <= 5],
    ["3. event-loop delay p99", ms(r.pacedEldP99), "<= 10 ms", null, r.pacedEldP99 <= 10],
    ["RSS at start, idle", `${r.idleRssMb} MB`, "info", null, null],
    ["4. peak RSS (VmHWM)", `${r.peakRssMb.toFixed(0)} MB`, "<= 300 MB", null, r.peakRssMb <= 300],
    ["4. max rssMb from stats", `${r.maxStatsRssMb} MB`, "<= 300 MB", null, r.maxStatsRssMb <= 300],
    ["main-thread CPU per execution", `${r.mainCpuUsPerExecution.toFixed(0)} us`, "info", null, null],
    ["bare server CPU per request", `${r.bareCpuUsPerRequest.toFixed(1)} us`, "baseline", null, null],
    // With both cores busy, throughput follows CPU: this ratio moves far less with the machine's speed than L does.
    ["process CPU per execution", `${r.processCpuUsPerExecution.toFixed(0)} us`, "info", r.processCpuUsPerExecution / r.bareCpuUsPerRequest, null],
    ["peak RSS after the fill (VmHWM)", `${r.peakRssAfterFillMb.toFixed(0)} MB`, "info", null, null],
    ["first start, empty data dir", `${r.firstStartMs.toFixed(0)} ms`, "baseline", null, null],
    [`5. restart, ${r.storedExecutions} stored (median of 3)`, `${r.restartMedianMs.toFixed(0)} ms`, "<= 1000 ms", r.restartMedianMs / r.firstStartMs, r.restartMedianMs <= 1000 && r.storedExecutions >= TARGET_STORED],
    ["first start until idle", `${r.firstSettledMs.toFixed(0)} ms`, "baseline", null, null],
    ["restart until idle (index loaded)", `${r.restartSettledMedianMs.toFixed(0)} ms`, "info", r.restartSettledMedianMs / r.firstSettledMs, null],
  ];
  const table = rows.map(([figure, value, target, ratio, pass]) => ({ figure, value, target, ratio: ratio === null ? "" : `${ratio.toFixed(2)}x`, verdict: pass === null ? "" : pass ? "PASS" : "FAIL" }));
  const widths = Object.keys(table[0]).map((k) => Math.max(k.length, ...table.map((t) => t[k].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  process.stdout.write(`\n${line(Object.keys(table[0]))}\n${table.map((t) => line(Object.values(t))).join("\n")}\n`);
  const file = path.join(os.tmpdir(), "refract-bench-latest.json");
  fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), code: r.code, cpus: os.cpus().length, figures: r, table }, null, 2));
  process.stdout.write(`\nfigures as JSON: ${file}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack}\n`);
  killAll();
  process.exitCode = 1;
});
