import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { decode } from "@msgpack/msgpack";
import { STOPPED_BEFORE_FINISH } from "../../protocol/executions";
import { LogSearch } from "../../server/src/store/logs";
import { ExecutionStore } from "../../server/src/store/executions";
import { CLI, ROOT, ServeProcess, copyFixture, postJson, tmpDir, waitFor } from "../helpers";

/** `refract serve` as users run it: a real process, its output, exit codes, signals and data dir. */
describe("refract serve (INTERFACES.md §1)", function () {
  this.timeout(60_000);
  const running: ServeProcess[] = [];
  const start = (args: string[], env: Record<string, string> = {}) => {
    const p = new ServeProcess(args, env);
    running.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.kill("SIGKILL")));
  });

  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 20_000 });

  it("prints usage with --help, and exits 2 with a clear message on a bad command line", () => {
    const help = run(["--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: refract serve <workspace>/);
    for (const [args, message] of [
      [[], /Missing command/],
      [["serve"], /Missing <workspace>/],
      [["deploy", "."], /Unknown command "deploy"/],
      [["serve", ".", "--port", "http"], /--port must be a whole number from 0 to 65535, not "http"/],
      [["serve", ".", "--port", "70000"], /--port must be a whole number/],
      [["serve", ".", "--workers", "0"], /--workers must be a whole number from 1/],
      [["serve", ".", "--no-such-flag"], /Unknown option '--no-such-flag'/],
      [["serve", ".", "--token", "short"], /token \(--token\) must be 8 to 512 printable characters/],
      [["serve", ".", "--data-dir="], /--data-dir must not be empty/],
      [["serve", ".", "--entry", " "], /--entry must not be empty/],
      [["serve", ".", "--max-chain-depth", "0"], /--max-chain-depth must be a whole number from 1/],
      [["serve", ".", "--retention-days", "0"], /--retention-days must be a whole number from 1/],
      [["serve", ".", "--allowed-host", "evil/host"], /--allowed-host takes a host name \(optionally with :port\), not "evil\/host"/],
    ] as const) {
      const r = run([...args]);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Usage:/);
    }
  });

  it("exits 1 naming the file when the stored token is not a usable token", () => {
    const dataDir = tmpDir("bad-token");
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, "token"), "has space inside\n");
    const r = run(["serve", copyFixture("basic"), "--port", "0", "--data-dir", dataDir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`The token in ${path.join(dataDir, "token").replace(/[.]/g, "\\.")} is not 8 to 512 printable characters without spaces: correct it, or delete the file for a new one`));
    // Empty (it was silently replaced, retiring every script's token and blob URL), a folder (a stack trace), a lock that is a folder.
    fs.writeFileSync(path.join(dataDir, "token"), "  \n");
    const empty = run(["serve", copyFixture("basic"), "--port", "0", "--data-dir", dataDir]);
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /^refract: The token in .*token is empty: correct it, or delete the file for a new one\n$/);
    assert.equal(fs.readFileSync(path.join(dataDir, "token"), "utf8"), "  \n");
    fs.rmSync(path.join(dataDir, "token"));
    fs.mkdirSync(path.join(dataDir, "token"));
    const folder = run(["serve", copyFixture("basic"), "--port", "0", "--data-dir", dataDir]);
    assert.equal(folder.status, 1);
    assert.match(folder.stderr, /^refract: .*token cannot be read \(EISDIR: .*\): repair it, or delete it for a new token\n$/);
    fs.rmSync(path.join(dataDir, "token"), { recursive: true });
    fs.mkdirSync(path.join(dataDir, "lock"));
    const lock = run(["serve", copyFixture("basic"), "--port", "0", "--data-dir", dataDir]);
    assert.equal(lock.status, 1);
    assert.match(lock.stderr, /^refract: Cannot lock .*: .*lock is not a lock Refract can remove \(.*\); move it away\n$/);
  });

  it("exits 1 naming the data dir when it cannot be one (a file)", () => {
    const file = path.join(tmpDir("data-dir-file"), "a-file");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "");
    const r = run(["serve", copyFixture("basic"), "--port", "0", "--data-dir", file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^refract: Cannot use ${file.replace(/[.]/g, "\\.")} as the data dir: EEXIST`));
  });

  it("exits 1 naming the data dir when its parent refuses it (under /proc), where Node's recursive mkdir never returns", () => {
    const r = run(["serve", copyFixture("basic"), "--port", "0", "--data-dir", "/proc/refract/data"]);
    assert.equal(r.error, undefined, "it returned before the 20 s timeout");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^refract: Cannot use \/proc\/refract\/data as the data dir: ENOENT/);
  });

  it("exits 1 when the workspace is not a folder", () => {
    const r = run(["serve", path.join(ROOT, "no-such-folder"), "--port", "0"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no-such-folder is not a folder/);
  });

  it("prints the ready output, persists its token (mode 0600) and reuses it, and honours --token and REFRACT_TOKEN", async () => {
    const workspace = copyFixture("basic");
    const p = start(["serve", workspace, "--port", "0"]);
    const first = await p.line((l) => l.startsWith("API token: "));
    const [listening, tokenLine, uiLine, integration, ...flows] = p.stdout;
    assert.match(listening, /^Refract listening on http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(tokenLine, first);
    assert.equal(uiLine, `Browser UI: ${listening.slice("Refract listening on ".length)}/ui#token=${encodeURIComponent(tokenLine.slice("API token: ".length))}`);
    await p.line((l) => l.includes("Binary"));
    assert.match(integration, /^Fixture Basic \(version 1\): build ok$/);
    assert.match(flows[0], /^ {2}Echo +WEBHOOK +http:\/\/127\.0\.0\.1:\d+\/trigger\/\S+$/);
    const token = tokenLine.slice("API token: ".length);
    const tokenFile = path.join(workspace, ".refract", "token");
    assert.equal(fs.readFileSync(tokenFile, "utf8").trim(), token);
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
    assert.equal(await p.kill(), 0);

    const again = start(["serve", workspace, "--port", "0"]);
    assert.equal(await again.line((l) => l.startsWith("API token: ")), tokenLine, "the token is reused");
    await again.kill();
    const flag = start(["serve", workspace, "--port", "0", "--token", "from-the-flag"]);
    assert.equal(await flag.line((l) => l.startsWith("API token: ")), "API token: from-the-flag");
    await flag.kill();
    const env = start(["serve", workspace, "--port", "0"], { REFRACT_TOKEN: "from-the-env" });
    assert.equal(await env.line((l) => l.startsWith("API token: ")), "API token: from-the-env");
  });

  it("prints each rebuild, with the test URL of a flow it adds, and says when the sources came back to the build that serves", async () => {
    const workspace = copyFixture("basic");
    const file = path.join(workspace, "src/index.ts");
    const good = fs.readFileSync(file, "utf8");
    const p = start(["serve", workspace, "--port", "0"]);
    await p.line((l) => l.includes("Binary"));
    fs.writeFileSync(file, good.replace('name: "Echo",\n      stableKey: "echo",', 'name: "Echo Two",\n      stableKey: "echo-two",'));
    await p.line((l) => l === "Fixture Basic: rebuilt, now version 2");
    assert.match(await p.line((l) => l.includes("new flow")), /^ {2}new flow Echo Two {2}WEBHOOK {2}http:\/\/127\.0\.0\.1:\d+\/trigger\/\S+$/);
    fs.writeFileSync(file, good.replace("export default integration({", "const broken: number = ;\nexport default integration({"));
    await p.line((l) => l.startsWith("Fixture Basic: build failed, still serving version 2: src/index.ts:"));
    fs.writeFileSync(file, good.replace('name: "Echo",\n      stableKey: "echo",', 'name: "Echo Two",\n      stableKey: "echo-two",'));
    await p.line((l) => l === "Fixture Basic: build ok, serving version 2");
  });

  it("allows one process per data dir: a second one exits 1 naming the holder", async () => {
    const workspace = copyFixture("basic");
    const holder = start(["serve", workspace, "--port", "0", "--json"]);
    const ready = await holder.json("ready");
    const second = start(["serve", workspace, "--port", "0"]);
    assert.equal(await second.exited, 1);
    assert.match(second.stderr, new RegExp(`in use by another refract \\(pid ${holder.child.pid}, ${ready.url.replace(/[.]/g, "\\.")}\\)`));
    // The holder was not disturbed.
    const res = await postJson(ready.integrations[0].flows[0].testUrl, {});
    assert.equal(res.status, 200);
  });

  it("a stale lock is taken over by exactly one of two serves started at once", async () => {
    const workspace = copyFixture("basic");
    const dataDir = path.join(workspace, ".refract");
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!; // a pid that has just exited
    for (let round = 0; round < 4; round++) {
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(path.join(dataDir, "lock"), JSON.stringify({ pid: dead }));
      const both = [start(["serve", workspace, "--port", "0", "--json"]), start(["serve", workspace, "--port", "0", "--json"])];
      const outcomes = await Promise.all(both.map((p) => Promise.race([p.json("ready").then(() => "ready"), p.exited.then((code) => `exit ${code}`)])));
      assert.deepEqual([...outcomes].sort(), ["exit 1", "ready"], `round ${round}: ${outcomes}`);
      const loser = both[outcomes.indexOf("exit 1")];
      assert.match(loser.stderr, /(is in use by|is being taken over by) another refract \(pid \d+/);
      const winner = both[outcomes.indexOf("ready")];
      assert.equal(JSON.parse(fs.readFileSync(path.join(dataDir, "lock"), "utf8")).pid, winner.child.pid, "the lock names the one that serves");
      assert.equal(await winner.kill(), 0);
      assert.deepEqual(fs.readdirSync(dataDir).filter((f) => f.startsWith("lock")), [], "no lock, takeover or aside file is left");
    }
  });

  it("exits 1 when an explicit port is taken, and moves to the next free port when the default one is", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const explicit = start(["serve", copyFixture("basic"), "--port", String(taken)]);
      assert.equal(await explicit.exited, 1);
      assert.match(explicit.stderr, new RegExp(`Port ${taken} on 127\\.0\\.0\\.1 is already in use`));
    } finally {
      blocker.close();
    }
    // The default port (7780): hold it if nothing else does, then serve without --port.
    const holder = net.createServer();
    await new Promise<void>((r) => holder.once("error", () => r()).listen(7780, "127.0.0.1", () => r()));
    try {
      const fallback = start(["serve", copyFixture("basic"), "--json"]);
      const ready = await fallback.json("ready");
      assert.notEqual(new URL(ready.url).port, "7780");
      assert.match(fallback.stderr, /port 7780 is taken; using \d+/);
    } finally {
      holder.close();
    }
  });

  it("refuses to start on an unreadable metadata.json, leaving it as it was", async () => {
    const workspace = copyFixture("basic");
    const file = path.join(workspace, ".refract", "metadata.json");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{"customers": [');
    const p = start(["serve", workspace, "--port", "0"]);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr, /metadata\.json cannot be read .*; repair it or move it away/);
    assert.equal(fs.readFileSync(file, "utf8"), '{"customers": [');
    assert.equal(fs.existsSync(path.join(workspace, ".refract", "lock")), false, "the lock is released");
    // JSON of another shape: refused the same way, not taken as no metadata (or a stack trace).
    for (const [text, problem] of [
      ["null", "it is not an object"],
      ["{}", "customers is not a list"],
      ['{"customers":[],"instances":[null],"flowConfigs":[],"integrations":[]}', "instances[0] is not a record"],
      // Records without their ids: the server started on made-up ones (a second system instance, new webhook URLs).
      ['{"customers":[],"instances":[],"flowConfigs":[],"integrations":[{"flowIds":{}}]}', "integrations[0].id is not a string"],
      ['{"customers":[],"instances":[{}],"flowConfigs":[],"integrations":[]}', "instances[0].id is not a string"],
    ]) {
      fs.writeFileSync(file, text);
      const again = start(["serve", workspace, "--port", "0"]);
      assert.equal(await again.exited, 1);
      assert.ok(again.stderr.includes(`metadata.json does not hold Refract's metadata (${problem}); repair it or move it away`), again.stderr);
      assert.equal(fs.readFileSync(file, "utf8"), text);
    }
  });

  it("hints on stderr when .refract/ is not in the workspace's .gitignore, without touching it", async () => {
    const workspace = copyFixture("basic");
    fs.rmSync(path.join(workspace, ".gitignore"));
    const p = start(["serve", workspace, "--port", "0", "--json"]);
    await p.json("ready");
    assert.match(p.stderr, /hint: add \.refract\/ to .*\.gitignore/);
    assert.equal(fs.existsSync(path.join(workspace, ".gitignore")), false);
  });

  it("runs many workers without Node warning of leaked listeners (each worker's stdout goes to stderr)", async () => {
    const p = start(["serve", copyFixture("basic"), "--port", "0", "--json", "--workers", "8"]);
    await p.json("ready");
    assert.doesNotMatch(p.stderr, /Warning/);
  });

  it("compiles the server with the code cache the previous start saved, rather than refusing and rewriting it", async () => {
    // V8 refuses a code cache made under other flags; the runtime sets the workers' heap flag
    // (runtime/workerHeap.ts), so it must do so before the bin compiles anything.
    const tmp = tmpDir("os-tmp");
    const cacheFile = () => {
      const folder = fs.readdirSync(tmp).find((f) => f.startsWith("refract-"));
      const file = folder && fs.readdirSync(path.join(tmp, folder)).find((f) => f.endsWith(".cache"));
      return file ? path.join(tmp, folder, file) : undefined;
    };
    const workspace = copyFixture("basic");
    const first = start(["serve", workspace, "--port", "0", "--json"], { TMPDIR: tmp });
    await first.json("ready");
    const file = await waitFor(cacheFile, 15_000, "the code cache to be saved");
    await first.kill();
    const saved = fs.statSync(file).mtimeMs;
    const second = start(["serve", workspace, "--port", "0", "--json"], { TMPDIR: tmp });
    await second.json("ready");
    await new Promise((r) => setTimeout(r, 4000)); // past the 3 s after which a refused cache is saved again
    await second.kill();
    assert.equal(fs.statSync(file).mtimeMs, saved);
  });

  it("keeps the code caches of the last few server builds, not one more per rebuild", () => {
    const tmp = tmpDir("os-tmp");
    const folder = path.join(tmp, `refract-${process.getuid!()}`);
    fs.mkdirSync(folder, { mode: 0o700 });
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    for (let h = 1; h <= 6; h++) {
      fs.writeFileSync(path.join(folder, `server-${h}-${h}.cache`), "old build");
      fs.utimesSync(path.join(folder, `server-${h}-${h}.cache`), hoursAgo(h), hoursAgo(h));
    }
    fs.writeFileSync(path.join(folder, "notes.txt"), "not a cache");
    const { status } = spawnSync(process.execPath, [CLI, "--help"], { env: { ...process.env, TMPDIR: tmp }, timeout: 20_000 });
    assert.equal(status, 0);
    assert.deepEqual(fs.readdirSync(folder).sort(), ["notes.txt", "server-1-1.cache", "server-2-2.cache", "server-3-3.cache"], "the three saved last stay");
  });

  it("on SIGTERM and SIGINT stops accepting, lets running executions finish, releases the lock and exits 0", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const workspace = copyFixture("basic");
      const p = start(["serve", workspace, "--port", "0", "--json"]);
      const ready = await p.json("ready");
      const echo = ready.integrations[0].flows.find((f: any) => f.name === "Echo").testUrl;
      const res = await postJson(`${echo}?sleep=700`, {});
      // User code that writes to stdout itself: --json's stdout stays one JSON object per line.
      await postJson(`${ready.integrations[0].flows.find((f: any) => f.name === "Misbehaves").testUrl}?what=stdout`, {});
      await new Promise((r) => setTimeout(r, 100));
      p.child.kill(signal);
      assert.equal(await p.exited, 0);
      assert.match(p.stderr, /raw text from the flow/);
      const line = p.stdout.map((l) => JSON.parse(l)).find((o) => o.event === "execution" && o.flow === "Echo");
      assert.equal(line?.id, res.json.executionId);
      assert.equal(line.status, "SUCCESS", "the running execution finished within the grace period");
      assert.equal(fs.existsSync(path.join(workspace, ".refract", "lock")), false);
    }
  });

  it("keeps serving when the reader of its output goes away (EPIPE), and still stops cleanly", async () => {
    const workspace = copyFixture("basic");
    const p = start(["serve", workspace, "--port", "0", "--json"]);
    const ready = await p.json("ready");
    p.child.stdout!.destroy(); // as `refract serve | head -1` after the ready line
    const echo = ready.integrations[0].flows.find((f: any) => f.name === "Echo").testUrl;
    for (let i = 0; i < 3; i++) {
      assert.equal((await postJson(echo, { i })).status, 200);
      await new Promise((r) => setTimeout(r, 200)); // each execution's line is written, and fails
    }
    assert.equal(p.child.exitCode, null, p.stderr);
    assert.equal(await p.kill(), 0);
    assert.equal(fs.existsSync(path.join(workspace, ".refract", "lock")), false);
  });

  it("on a signal while the integration's first load never ends, exits 0 after the 10 s grace", async () => {
    const workspace = copyFixture("basic");
    const index = path.join(workspace, "src", "index.ts");
    fs.writeFileSync(index, "const until = Date.now() + 120_000;\nwhile (Date.now() < until) {}\n" + fs.readFileSync(index, "utf8"));
    const p = start(["serve", workspace, "--port", "0", "--json"]);
    await waitFor(() => fs.existsSync(path.join(workspace, ".refract", "lock")) || null, 20_000, "the lock");
    await new Promise((r) => setTimeout(r, 1000));
    p.child.kill("SIGTERM");
    assert.equal(await p.exited, 0);
    assert.match(p.stderr, /still starting after 10 s/);
  });

  it("after a kill -9: running executions end in ERROR, queued ones run at the next start, nothing accepted is lost", async () => {
    const workspace = copyFixture("basic");
    const first = start(["serve", workspace, "--port", "0", "--json", "--max-concurrency", "2"]);
    const ready = await first.json("ready");
    const echo = ready.integrations[0].flows.find((f: any) => f.name === "Echo").testUrl;
    const runningIds = [(await postJson(`${echo}?sleep=20000`, {})).json.executionId, (await postJson(`${echo}?sleep=20000`, {})).json.executionId];
    const queuedIds = [(await postJson(echo, { n: 1 })).json.executionId, (await postJson(echo, { n: 2 })).json.executionId];
    await first.kill("SIGKILL");

    const second = start(["serve", workspace, "--port", "0", "--json"]);
    await second.json("ready");
    for (const id of queuedIds) assert.equal((await second.json("execution", (o) => o.id === id)).status, "SUCCESS");
    assert.equal(await second.kill(), 0);

    const store = new ExecutionStore(path.join(workspace, ".refract"));
    await store.open();
    for (const id of runningIds) {
      const stopped = store.executions.get(id)!;
      assert.equal(stopped.status, "ERROR");
      assert.equal(stopped.error, STOPPED_BEFORE_FINISH);
      assert.ok(stopped.request, "its request is kept, so it can be replayed");
      const logs = await new LogSearch(store).ofExecution(stopped);
      assert.match(logs[logs.length - 1].message, /^Ending Instance Execution/);
    }
    for (const [i, id] of queuedIds.entries()) {
      const x = store.executions.get(id)!;
      const result = decode((await store.readBlob(x, x.steps[1]))!) as { data: string };
      assert.deepEqual(JSON.parse(result.data).body, { n: i + 1 });
    }
    await store.close();
  });

  it("maps the stack of a failed step to the TypeScript source, in a workspace whose path has a space", async () => {
    // In its own process: the test runner's TypeScript loader turns on Node's source maps, which would hide Refract's own mapping.
    const workspace = copyFixture("basic");
    assert.ok(workspace.includes(" "));
    const p = start(["serve", workspace, "--port", "0", "--json"]);
    const ready = await p.json("ready");
    const res = await postJson(ready.integrations[0].flows.find((f: any) => f.name === "Throws").testUrl, {});
    await p.json("execution", (o) => o.id === res.json.executionId);
    assert.equal(await p.kill(), 0);
    const store = new ExecutionStore(path.join(workspace, ".refract"));
    await store.open();
    const x = store.executions.get(res.json.executionId)!;
    const step = JSON.parse((decode((await store.readBlob(x, x.steps[1]))!) as { data: string }).data);
    assert.ok(step.stack.includes(`${path.join(workspace, "src", "index.ts")}:`), step.stack);
    assert.doesNotMatch(step.stack.split("\n")[1], /build-[0-9a-f]+\.js/);
    await store.close();
  });

  it("smoke: serves the example like `npm start`, runs a webhook execution and stores it", async () => {
    const dataDir = tmpDir("example-data");
    const p = start(["serve", path.join(ROOT, "examples/orders"), "--port", "0", "--json", "--data-dir", dataDir]);
    const ready = await p.json("ready");
    assert.equal(ready.integrations[0].name, "Orders");
    assert.ok(ready.integrations[0].build.ok);
    const url = ready.integrations[0].flows.find((f: any) => f.name === "Receive Order").testUrl;
    const res = await postJson(url, { order: 1, items: [{ price: 2 }, { price: 3 }] });
    assert.equal(res.status, 200);
    const done = await p.json("execution", (o) => o.id === res.json.executionId);
    assert.equal(done.status, "SUCCESS");
    assert.equal(await p.kill(), 0);

    const store = new ExecutionStore(dataDir);
    await store.open();
    const x = store.executions.get(res.json.executionId)!;
    const result = decode((await store.readBlob(x, x.steps[1]))!) as { data: string; contentType: string };
    assert.deepEqual(JSON.parse(result.data), { order: 1, total: 5, currency: "EUR" });
    await store.close();
    await waitFor(() => !fs.existsSync(path.join(dataDir, "lock")), 1000, "the lock to go");
  });
});
