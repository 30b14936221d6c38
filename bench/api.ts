// API benchmark (`npm run bench:api`, about two minutes): issue 4's read paths over 100,000 stored
// executions on 50 instances and 1,000,000 stored log lines spread over 7 days.
//
// 1. The data is made in this process with the store's own API (the same files a running server
//    writes), on 50 real instances of the trivial bench fixture.
// 2. `refract serve` then runs as a child process on that data dir (the index loads at start-up, as
//    after any restart), with V8's --trace-gc for its heap.
// 3. Each query is timed from this process over keep-alive HTTP (server time from the answers'
//    Server-Timing), next to baselines measured in the same run: a trivial query (`{ __typename }`)
//    for the per-request cost, and reading every log file with `fs` for the scans.
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { DAYS, EXECUTIONS, INSTANCES, LINES_PER_EXECUTION, RARE_EVERY, makeData } from "./apiData";
import { Server } from "./serveChild";

const log = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${s}\n`);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "refract-bench-api-"));
  process.on("exit", () => fs.rmSync(dataDir, { recursive: true, force: true }));
  let t0 = performance.now();
  await makeData(dataDir);
  const logBytes = fs.readdirSync(path.join(dataDir, "executions")).reduce((n, d) => n + fs.statSync(path.join(dataDir, "executions", d, "logs.ndjson")).size, 0);
  log(`made ${EXECUTIONS} executions on ${INSTANCES} instances, ${EXECUTIONS * LINES_PER_EXECUTION} log lines (${(logBytes / 1048576).toFixed(0)} MB) over ${DAYS} days in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const server = new Server(dataDir);
  await server.ready();
  const { token } = server;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** Server-Timing of each answer: the server's own time, without the client's. */
  let serverMs: number[] = [];
  const query = (document: string, variables: Record<string, unknown> = {}) =>
    new Promise<any>((resolve, reject) => {
      const body = JSON.stringify({ query: document, variables });
      const req = http.request(`${server.url}/api`, { method: "POST", agent, headers: { "content-type": "application/json", authorization: `Bearer ${token}` } }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => {
          serverMs.push(Number(/dur=([\d.]+)/.exec(String(res.headers["server-timing"]))?.[1]));
          const json = JSON.parse(text);
          if (json.errors) reject(new Error(JSON.stringify(json.errors)));
          else resolve(json.data);
        });
      });
      req.on("error", reject);
      req.end(body);
    });
  // The index loads in the background after start-up: wait until it holds everything.
  t0 = performance.now();
  while ((await query("{ executionResults(first: 0) { totalCount } }")).executionResults.totalCount < EXECUTIONS) await new Promise((r) => setTimeout(r, 50));
  log(`index loaded ${((performance.now() - t0) / 1000).toFixed(2)} s after ready`);

  const timed = async (runs: number, once: (i: number) => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await once(i);
      times.push(performance.now() - start);
    }
    return quantile(times, 0.5);
  };
  const instances = (await query(`{ instances(isSystem: false, first: ${INSTANCES}) { nodes { id } } }`)).instances.nodes.map((n: any) => n.id);
  await timed(50, () => query("{ __typename }")); // warm-up
  serverMs = [];
  const trivial = await timed(200, () => query("{ __typename }"));
  const trivialServer = quantile(serverMs, 0.5);
  serverMs = [];
  const executions = await timed(200, (i) =>
    query(`query($i: ID) { executionResults(instance: $i, first: 50) { nodes { id status startedAt endedAt invokeType flow { name } } pageInfo { endCursor } } }`, { i: instances[i % INSTANCES] }),
  );
  const executionsServer = quantile(serverMs, 0.5);

  const readAll = await timed(3, async () => {
    for (const d of fs.readdirSync(path.join(dataDir, "executions"))) await fs.promises.readFile(path.join(dataDir, "executions", d, "logs.ndjson"));
  });
  const range = { gte: new Date(Date.now() - DAYS * 86_400_000 - 3_600_000).toISOString(), lte: new Date().toISOString() };
  const LOGS = `query($text: String, $gte: DateTime, $lte: DateTime) { logs(message_Icontains: $text, severity_In: [INFO, WARN], timestamp_Gte: $gte, timestamp_Lte: $lte, first: 100) { edges { cursor node { timestamp severity message flowName instanceName } } } }`;
  server.gc = [];
  let matched = 0;
  const common = await timed(10, async () => (matched = (await query(LOGS, { text: "ORDER", ...range })).logs.edges.length));
  if (matched !== 100) throw new Error(`the common term matched ${matched} lines`);
  const rare = await timed(5, async () => (matched = (await query(LOGS, { text: "Quarantined", ...range })).logs.edges.length));
  if (matched !== Math.ceil(EXECUTIONS / RARE_EVERY)) throw new Error(`the rare term matched ${matched} lines`);
  const HISTOGRAM = `query($text: String, $gte: DateTime, $lte: DateTime) { logHistogram(message_Icontains: $text, severity_In: [INFO, WARN], timestamp_Gte: $gte, timestamp_Lte: $lte) { start counts { severity count } } }`;
  const histogram = await timed(3, () => query(HISTOGRAM, { text: "ORDER", ...range }));
  const histogramAll = await timed(3, () => query(`query($gte: DateTime, $lte: DateTime) { logHistogram(timestamp_Gte: $gte, timestamp_Lte: $lte) { start counts { severity count } } }`, range));
  const heap = Math.max(...server.gc.map((g) => g.before));
  const live = Math.max(...server.gc.map((g) => g.after));
  server.child.kill("SIGTERM");
  agent.destroy();

  const rows: Array<[string, number, string, string, string]> = [
    ["executionResults(instance, first: 50), server", executionsServer, "ms", "<= 5 ms", `${(executionsServer / trivialServer).toFixed(1)}x a trivial query (${trivialServer.toFixed(2)} ms)`],
    ["executionResults(instance, first: 50), client", executions, "ms", "", `${(executions / trivial).toFixed(1)}x a trivial query (${trivial.toFixed(2)} ms)`],
    ["logs: common term + severity + range, 100", common, "ms", "<= 50 ms", `${(common / readAll).toFixed(2)}x reading all logs with fs (${readAll.toFixed(0)} ms)`],
    ["logs: rare term + severity + range, 100", rare, "ms", "<= 500 ms", `${(rare / readAll).toFixed(2)}x reading all logs with fs`],
    ["logHistogram: common term + severity + range", histogram, "ms", "<= 300 ms", `${(histogram / readAll).toFixed(2)}x reading all logs with fs`],
    ["logHistogram: every line in the range", histogramAll, "ms", "<= 300 ms", `${(histogramAll / readAll).toFixed(2)}x reading all logs with fs`],
    ["server heap during the log queries, max", heap, "MB", "<= 100 MB", "garbage included: before each collection"],
    ["  of which live (after each collection), max", live, "MB", "", ""],
  ];
  process.stdout.write(`\n${"figure (p50)".padEnd(46)}  ${"value".padStart(10)}  ${"target".padStart(9)}  ratio\n`);
  for (const [name, value, unit, target, ratio] of rows) process.stdout.write(`${name.padEnd(46)}  ${`${value.toFixed(unit === "MB" ? 0 : 1)} ${unit}`.padStart(10)}  ${target.padStart(9)}  ${ratio}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
