import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { SEVERITIES, Severity } from "../../protocol/executions";
import { ExecutionStore, LogRecord } from "../../server/src/store/executions";
import { readIndex } from "../../server/src/store/logIndex";
import { LogFilter, LogSearch } from "../../server/src/store/logs";
import { LogScans } from "../../server/src/store/scans";
import { ROOT, tmpDir } from "../helpers";

const DAY = Date.UTC(2026, 10, 20);
const scope = (instanceId: string) => ({ flowConfigId: `fc-${instanceId}`, flowId: "f", flowName: "Flow", instanceId, customerId: "c", integrationId: "i", isTestExecution: false });
const SEVERITY_CYCLE: Severity[] = ["INFO", "DEBUG", "WARN", "ERROR", "TRACE"];

/** A store with executions over two days; about 3 MB of log lines, so scans cross chunk and window boundaries. */
async function filledStore(): Promise<{ store: ExecutionStore; lines: Array<LogRecord & { id: string }> }> {
  const store = new ExecutionStore(tmpDir("logs"));
  await store.open();
  const lines: Array<LogRecord & { id: string }> = [];
  for (let e = 0; e < 400; e++) {
    const id = `x${e}`;
    const startedAt = DAY + (e < 200 ? 0 : 86_400_000) + e * 1000;
    await store.accept(id, scope(e % 2 ? "odd" : "even"), "WEBHOOK", startedAt, null);
    let text = "";
    for (let n = 0; n < 40; n++) {
      const message =
        n === 7 && e === 123 ? "Grüße aus Köln: the ÜBER line" : n === 9 && e % 100 === 0 ? `A "quoted" Needle for ${e}` : `line ${n} of execution ${e} ${"padding ".repeat(20)}`;
      const line: LogRecord = { at: startedAt + n, severity: SEVERITY_CYCLE[n % 5], stepName: "onExecution", executionId: id, message };
      lines.push({ ...line, id });
      text += JSON.stringify(line) + "\n";
    }
    store.appendLogs(id, text);
    store.ended(id, "SUCCESS", "COMPLETED", null, startedAt + 50);
  }
  // A lifecycle hook's line (no execution) and a damaged line on the second day.
  store.appendLogs(null, JSON.stringify({ at: Date.now(), severity: "INFO", stepName: null, executionId: null, instanceId: "odd", flowId: "f", message: "hook ran" }) + "\n");
  await store.flushed();
  return { store, lines };
}

describe("log search (store/logs.ts) and the log index", function () {
  let store: ExecutionStore;
  let lines: Array<LogRecord & { id: string }>;
  let search: LogSearch;
  before(async () => {
    ({ store, lines } = await filledStore());
    search = new LogSearch(store);
    assert.ok(fs.statSync(path.join(store.listDays().map((d) => path.join((store as any).root, d))[0], "logs.ndjson")).size > 1024 * 1024, "more than one chunk a day");
  });
  after(() => store.close());

  const messages = async (filter: LogFilter, descending = false, limit = Infinity) => (await search.find(filter, { descending, limit })).map((l) => l.record.message);

  it("finds the same lines in either order, across chunks and windows, each once", async () => {
    const asc = await search.find({ severities: ["WARN"] }, { descending: false, limit: Infinity });
    const desc = await search.find({ severities: ["WARN"] }, { descending: true, limit: Infinity });
    assert.equal(asc.length, lines.filter((l) => l.severity === "WARN").length);
    assert.deepEqual(desc.map((l) => l.offset), asc.map((l) => l.offset).reverse());
    assert.deepEqual(asc.map((l) => l.record.message), lines.filter((l) => l.severity === "WARN").map((l) => l.message));
  });

  it("pages with positions: after and before are exclusive, in both orders", async () => {
    const all = await search.find({}, { descending: false, limit: Infinity });
    const middle = all[5000];
    const after = await search.find({}, { descending: false, after: middle, limit: 3 });
    assert.deepEqual(after.map((l) => l.offset), all.slice(5001, 5004).map((l) => l.offset));
    const before = await search.find({}, { descending: true, after: middle, limit: 3 });
    assert.deepEqual(before.map((l) => l.offset), all.slice(4997, 5000).map((l) => l.offset).reverse());
    const between = await search.find({}, { descending: false, after: all[10], before: all[14], limit: 100 });
    assert.deepEqual(between.map((l) => l.offset), all.slice(11, 14).map((l) => l.offset));
  });

  it("matches text case-insensitively in the message only, ASCII or not, with JSON escapes", async () => {
    assert.deepEqual(await messages({ text: 'a "QUOTED" needle' }), lines.filter((l) => l.message.startsWith('A "quoted"')).map((l) => l.message));
    assert.deepEqual(await messages({ text: "über LINE" }), ["Grüße aus Köln: the ÜBER line"]);
    assert.deepEqual(await messages({ text: "GRÜSSE" }), [], "no locale folding beyond lower case");
    assert.deepEqual(await messages({ text: "onExecution" }), [], "the step name is not the message");
    assert.deepEqual(await messages({ text: "x12" }), [], "nor is the execution id");
    assert.deepEqual(await messages({ text: "severity" }), []);
    assert.deepEqual(await messages({ text: "}" }), [], "nor the line's closing brace");
    // "Execution" is in every line's step name, before the message: the message is searched still.
    const inMessage = lines.filter((l) => l.message.includes("execution")).map((l) => l.message);
    assert.deepEqual(await messages({ text: "EXECUTION" }), inMessage);
    assert.equal(await search.count({ text: "EXECUTION" }), inMessage.length);
  });

  it("matches a message's text, not its JSON escapes, and finds the oldest line when lines were stored out of order", async () => {
    const own = new ExecutionStore(tmpDir("logs-escapes"));
    await own.open();
    const at = Date.now();
    await own.accept("e1", scope("even"), "WEBHOOK", at, null);
    const line = (dt: number, message: string) => JSON.stringify({ at: at + dt, severity: "INFO", stepName: "onExecution", executionId: "e1", message }) + "\n";
    const escaped = "alpha\nbeta\tgamma \u0000 end";
    const literal = "a \\n literal"; // a backslash and an n
    own.appendLogs("e1", line(5, escaped) + line(0, "earlier, stored later") + line(9, literal));
    await own.flushed();
    const ownSearch = new LogSearch(own);
    const found = async (text: string) => (await ownSearch.find({ text }, { descending: false, limit: Infinity })).map((l) => l.record.message);
    for (const text of ["nbeta", "tgamma", "u0000", "0000", "000 end"]) assert.deepEqual(await found(text), [], text);
    assert.deepEqual(await found("beta\tgamma"), [escaped]);
    assert.deepEqual(await found("\\n lit"), [literal]);
    assert.deepEqual(await found("n lit"), [literal], "after an escaped backslash, the n is text");
    assert.equal(await ownSearch.oldest(), at);
    await own.close();
  });

  it("filters by execution (its own stretch), time, severity and scope, hooks' lines included", async () => {
    const x = store.executions.get("x123")!;
    const own = await messages({ execution: x });
    assert.equal(own.length, 40);
    assert.equal(own[7], "Grüße aus Köln: the ÜBER line");
    assert.deepEqual(await messages({ execution: x, severities: ["ERROR"] }), lines.filter((l) => l.id === "x123" && l.severity === "ERROR").map((l) => l.message));
    const window = await search.find({ from: x.startedAt + 10, to: x.startedAt + 12 }, { descending: false, limit: Infinity });
    assert.deepEqual(window.map((l) => l.record.message), own.slice(10, 13));
    const odd = await search.find({ scope: (line, ex) => (ex?.scope.instanceId ?? line.instanceId) === "odd", text: "hook" }, { descending: false, limit: Infinity });
    assert.deepEqual(odd.map((l) => l.record.message), ["hook ran"]);
    assert.equal(await search.count({ scope: (_line, ex) => ex?.scope.instanceId === "even" }), 200 * 40);
  });

  it("tallies from the index, and falls back to scanning when the index does not match its log", async () => {
    const expected = new Map<string, number>();
    for (const l of lines) expected.set(l.severity, (expected.get(l.severity) ?? 0) + 1);
    expected.set("INFO", expected.get("INFO")! + 1); // the hook's line
    // One bucket: counts by severity.
    const tally = async (filter: LogFilter = {}, by = search) => {
      const counts = await by.histogram(filter, { from: 0, width: Infinity, count: 1 });
      return new Map(SEVERITIES.flatMap((severity, i) => (counts[i] ? [[severity, counts[i]]] : [])));
    };
    // With a text, the scan finds lines and their heads through the index.
    const withText = { text: "needle", severities: ["TRACE", "WARN"] as Severity[] };
    const expectedWithText = new Map([["TRACE", lines.filter((l) => l.severity === "TRACE" && /needle/i.test(l.message)).length]]);
    assert.ok(expectedWithText.get("TRACE")! > 0);
    assert.deepEqual(await tally(), expected);
    assert.deepEqual(await tally(withText), expectedWithText);
    const day = path.join((store as any).root, store.listDays()[0], "logs.idx");
    const logFile = (await store.logFile(store.listDays()[0]))!;
    const index = await readIndex(day, logFile.size);
    assert.equal(index?.length, 2 * fs.readFileSync(logFile.file, "utf8").split("\n").length - 2, "the index written with the lines matches them: the tallies above came from it");
    fs.truncateSync(day, fs.statSync(day).size - 16); // as after a crash between the two writes
    assert.deepEqual(await tally(), expected);
    assert.deepEqual(await tally(withText), expectedWithText);
    fs.rmSync(day); // a data dir from before the index
    assert.deepEqual(await tally(), expected);
    assert.deepEqual(await tally(withText), expectedWithText);
  });

  it("tallies and pages a text search on the scan threads exactly as on the main thread", async () => {
    const scans = new LogScans(path.join(ROOT, "dist", "log-scan.js"), 2);
    try {
      const threaded = new LogSearch(store, scans);
      const buckets = { from: DAY, width: 3_600_000, count: 48 };
      for (const filter of [{ text: "PADDING", severities: ["INFO", "ERROR"] as Severity[] }, { text: "needle" }, { text: "über" }, { text: "no such text" }]) {
        const here = await search.histogram(filter, buckets);
        assert.deepEqual(await threaded.histogram(filter, buckets), here);
        assert.equal(await threaded.count(filter), lines.filter((l) => l.message.toLowerCase().includes(filter.text.toLowerCase()) && (!filter.severities || filter.severities.includes(l.severity))).length);
      }
      assert.ok((await threaded.histogram({ text: "padding" }, buckets)).some((n, i) => n > 0 && i > SEVERITIES.length * 24), "the second day is in later buckets");
      // Pages of a text search too: either order, across days, from cursors, to the same lines.
      const all = await search.find({ text: "padding" }, { descending: false, limit: Infinity });
      for (const [filter, scan] of [
        [{ text: "needle" }, { descending: true, limit: 3 }],
        [{ text: "needle" }, { descending: false, limit: 100 }],
        [{ text: "PADDING", severities: ["WARN"] as Severity[] }, { descending: true, limit: 101 }],
        [{ text: "padding" }, { descending: false, after: all[7990], limit: 30 }],
        [{ text: "padding" }, { descending: true, after: all[8010], before: all[7000], limit: 2000 }],
        [{ text: "no such text" }, { descending: true, limit: 100 }],
      ] as Array<[LogFilter, Parameters<LogSearch["find"]>[1]]>) {
        const offsets = async (by: LogSearch) => (await by.find(filter, scan)).map((l) => `${l.day}:${l.offset}:${l.record.message.slice(0, 12)}`);
        assert.deepEqual(await offsets(threaded), await offsets(search), JSON.stringify({ filter, scan: { ...scan, after: !!scan.after, before: !!scan.before } }));
      }
    } finally {
      await scans.close();
    }
    await assert.rejects(new LogSearch(store, scans).count({ text: "x" }), /closed/);
  });

  it("skips damaged lines", async () => {
    const dir = tmpDir("damaged");
    const s = new ExecutionStore(dir);
    await s.open();
    await s.accept("a", scope("i"), "WEBHOOK", DAY, null);
    s.appendLogs("a", `{"at":${DAY},"severity":"INFO","stepName":null,"executionId":"a","message":"good"}\n{"at":${DAY},"sev\n{not json}\n{"at":${DAY},"severity":"INFO","message":"cut sho\n`);
    await s.flushed();
    assert.deepEqual((await new LogSearch(s).ofExecution(s.executions.get("a")!)).map((l) => l.message), ["good"]);
    await s.close();
  });
});
