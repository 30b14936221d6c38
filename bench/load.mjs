// Load generator for bench/runtime.mjs, run as its own process so it never shares an event loop
// with the server under test. Raw keep-alive sockets and one prebuilt request buffer: on 2 cores
// every microsecond the generator spends is taken from the server, so it does as little as it can.
//
// The parent sends the config as the first IPC message:
//   {mode: "closed", url, body, connections, durationMs, warmupMs, maxRequests?}
//     each connection sends its next request as soon as the previous answer arrives; counts
//     answers by status, and the 200s that arrived after the warm-up (the window, in epoch ms, is
//     reported so the parent can match the server's journal against it).
//   {mode: "paced", url, body, rate, durationMs, warmupMs, sockets, maxSockets}
//     request i is due at start + i/rate; a timer sends whatever is due (one or two per tick at
//     1,000/s, never a second's quota at once). Latency runs from the write to the last byte of
//     the answer; how late the generator itself was to send is reported apart as sendLag (on 2
//     busy cores its timer is late too, and that is not the server's doing). A new socket opens
//     only when all are busy, up to maxSockets; past that a request waits for one, and its latency
//     then counts from when it was due, so a server that stalls cannot hide behind the cap (and
//     cannot drown in a storm of new connections either).
// The result goes to the parent over IPC.
import * as net from "node:net";
import { performance } from "node:perf_hooks";

const cfg = await new Promise((resolve) => process.once("message", resolve));
const url = new URL(cfg.url);
const body = Buffer.from(cfg.body);
const request = Buffer.concat([
  Buffer.from(`POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, "latin1"),
  body,
]);
const HEADER_END = Buffer.from("\r\n\r\n");

/** A keep-alive connection that sends one request at a time and calls back with the status. */
function connection(onAnswer, onClosed) {
  const socket = net.connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  let pending = null;
  let want = -1; // bytes the current answer needs in total, once its headers are in
  let status = 0;
  socket.on("data", (chunk) => {
    pending = pending ? Buffer.concat([pending, chunk]) : chunk;
    while (pending) {
      if (want < 0) {
        const end = pending.indexOf(HEADER_END);
        if (end < 0) return;
        const head = pending.toString("latin1", 0, end).toLowerCase();
        status = Number(head.slice(9, 12));
        const m = /\r\ncontent-length: *(\d+)/.exec(head);
        if (!m) throw new Error(`answer without content-length: ${head.slice(0, 200)}`);
        want = end + 4 + Number(m[1]);
      }
      if (pending.length < want) return;
      const rest = pending.length > want ? pending.subarray(want) : null;
      want = -1;
      pending = rest;
      onAnswer(c, status);
    }
  });
  socket.on("error", () => errors++);
  socket.on("close", () => onClosed(c));
  const c = { socket, busy: false, sentAt: 0, send: () => socket.write(request) };
  return c;
}

const statuses = {};
const count = (s) => (statuses[s] = (statuses[s] ?? 0) + 1);
let errors = 0;

function closed() {
  const t0 = Date.now();
  const windowStart = t0 + cfg.warmupMs;
  const windowEnd = t0 + cfg.durationMs;
  let sent = 0;
  let windowOk = 0;
  let open = cfg.connections;
  const max = cfg.maxRequests ?? Infinity;
  const next = (c) => {
    if (Date.now() - t0 >= cfg.durationMs || sent >= max) return c.socket.end();
    sent++;
    c.send();
  };
  const onAnswer = (c, status) => {
    count(status);
    const now = Date.now();
    if (status === 200 && now >= windowStart && now <= windowEnd) windowOk++;
    next(c);
  };
  const onClosed = () => {
    if (--open === 0) finish({ sent, windowOk, windowStart, windowEnd: Math.min(windowEnd, Date.now()) });
  };
  for (let i = 0; i < cfg.connections; i++) next(connection(onAnswer, onClosed));
}

function paced() {
  const free = [];
  const all = new Set();
  const waiting = []; // due requests with no socket to go on
  const total = Math.round((cfg.rate * cfg.durationMs) / 1000);
  const measuredFrom = Math.round((cfg.rate * cfg.warmupMs) / 1000);
  const latency = new Float64Array(total).fill(NaN);
  const lag = new Float64Array(total).fill(NaN);
  let start = 0;
  let startEpoch = 0;
  let sent = 0;
  let answered = 0;
  const due = (i) => start + (i * 1000) / cfg.rate;
  const sendOn = (c, i, from) => {
    c.busy = true;
    c.index = i;
    c.sentAt = from;
    c.send();
  };
  const onAnswer = (c, status) => {
    count(status);
    latency[c.index] = performance.now() - c.sentAt;
    c.busy = false;
    if (waiting.length) sendOn(c, waiting[0], due(waiting.shift()));
    else free.push(c);
    if (++answered === total) done();
  };
  const onClosed = (c) => {
    all.delete(c);
    const i = free.indexOf(c);
    if (i >= 0) free.splice(i, 1);
    if (c.busy) {
      errors++;
      if (++answered === total) done();
    }
  };
  const open = () => {
    const c = connection(onAnswer, onClosed);
    all.add(c);
    return c;
  };
  for (let i = 0; i < cfg.sockets; i++) free.push(open());
  const tick = () => {
    const now = performance.now();
    for (; sent < total && due(sent) <= now; sent++) {
      lag[sent] = now - due(sent);
      const c = free.pop() ?? (all.size < cfg.maxSockets ? open() : null);
      if (c) sendOn(c, sent, performance.now());
      else waiting.push(sent);
    }
    if (sent < total) setTimeout(tick, Math.max(0, due(sent) - performance.now()));
  };
  const done = () => {
    for (const c of all) c.socket.end();
    const pick = (a) => Array.from(a.subarray(measuredFrom)).filter((x) => !Number.isNaN(x));
    const window = { windowStart: startEpoch + cfg.warmupMs, windowEnd: startEpoch + cfg.durationMs };
    finish({ sent, ...window, measured: total - measuredFrom, latencyMs: summary(pick(latency)), sendLagMs: summary(pick(lag)), sockets: all.size });
  };
  // Give the pre-opened sockets a moment to connect so the first requests do not pay for it.
  setTimeout(() => {
    start = performance.now();
    startEpoch = Date.now();
    tick();
  }, 200);
  setTimeout(() => done(), cfg.durationMs + 10_000).unref(); // answers that never come
}

function summary(values) {
  values.sort((a, b) => a - b);
  const q = (p) => (values.length ? values[Math.min(values.length - 1, Math.floor(p * values.length))] : NaN);
  return { n: values.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: values.at(-1) ?? NaN };
}

let finished = false;
function finish(result) {
  if (finished) return;
  finished = true;
  const cpu = process.cpuUsage();
  process.send({ ...result, statuses, errors, cpuMs: (cpu.user + cpu.system) / 1000 }, () => process.exit(0));
}

if (cfg.mode === "closed") closed();
else paced();
