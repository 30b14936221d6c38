import * as assert from "node:assert/strict";
import { ChildProcess, fork } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { IPCMessageReader, IPCMessageWriter, ProtocolConnection, SocketMessageReader, SocketMessageWriter, StreamMessageReader, StreamMessageWriter, createProtocolConnection } from "vscode-languageserver-protocol/node";
import { BuildState, BuildStateNotification, ExecutionChange, ExecutionsChangedNotification, RuntimeInfoRequest } from "../../protocol/lsp";
import { CLI, copyFixture, postJson, tmpDir, waitFor } from "../helpers";

/** The language server as the extension starts it: the bin over node IPC, spoken to with the LSP protocol library. */
class LanguageServer {
  readonly child: ChildProcess;
  readonly connection: ProtocolConnection;
  readonly changes: ExecutionChange[] = [];
  readonly builds: BuildState[] = [];
  readonly messages: Array<{ type: number; message: string }> = [];
  readonly diagnostics = new Map<string, Array<{ message: string; range: { start: { line: number; character: number } }; severity: number }>>();
  readonly exited: Promise<number | null>;

  constructor() {
    this.child = fork(CLI, ["--node-ipc"], { stdio: ["ignore", "pipe", "pipe", "ipc"] });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    this.connection = createProtocolConnection(new IPCMessageReader(this.child), new IPCMessageWriter(this.child));
    this.connection.onNotification(ExecutionsChangedNotification, ({ changes }) => void this.changes.push(...changes));
    this.connection.onNotification(BuildStateNotification, (b) => void this.builds.push(b));
    // Messages for the user are requests (they could offer actions): answered with no choice.
    this.connection.onRequest("window/showMessageRequest", (m: { type: number; message: string }) => {
      this.messages.push(m);
      return null;
    });
    this.connection.onNotification("window/logMessage", () => {});
    this.connection.onNotification("textDocument/publishDiagnostics", (p: { uri: string; diagnostics: any[] }) => void this.diagnostics.set(p.uri, p.diagnostics));
    this.connection.listen();
  }

  initialize(workspace: string, initializationOptions: unknown, processId: number | null = process.pid) {
    return this.connection.sendRequest("initialize", { processId, rootUri: pathToFileURL(workspace).href, capabilities: {}, initializationOptions, workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: "ws" }] });
  }

  async stop(): Promise<number | null> {
    await this.connection.sendRequest("shutdown");
    await this.connection.sendNotification("exit");
    return this.exited;
  }
}

describe("the language server (LSP mode of the server process)", function () {
  this.timeout(60_000);

  it("hosts the runtime for the workspace folder, tells where the API is, and pushes execution changes and builds", async () => {
    const workspace = copyFixture("basic");
    const dataDir = tmpDir("lsp-data");
    const server = new LanguageServer();
    const init: any = await server.initialize(workspace, { port: 0, dataDir, retentionDays: 3 });
    assert.equal(init.serverInfo.name, "refract");
    const info = await server.connection.sendRequest(RuntimeInfoRequest);
    assert.match(info.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/);
    assert.equal(info.dataDir, dataDir);
    assert.ok(fs.existsSync(path.join(dataDir, "metadata.json")));
    await waitFor(() => server.builds.length > 0, 20_000, "the first build state");
    assert.deepEqual(server.builds[0], { ok: true, error: null, versionNumber: 1 });

    // The API answers with the token the server handed over; a webhook's execution is pushed as it changes.
    const api = await postJson(info.apiUrl, { query: "{ integrations { nodes { flows { nodes { name testUrl } } } } }" }, { authorization: `Bearer ${info.token}` });
    const echo = api.json.data.integrations.nodes[0].flows.nodes.find((f: any) => f.name === "Echo");
    assert.ok(echo.testUrl.startsWith(info.webhookBaseUrl));
    const { json } = await postJson(echo.testUrl, { via: "lsp" });
    const ended = await waitFor(() => server.changes.find((c) => c.id === json.executionId && c.status === "SUCCESS"), 20_000, "the execution's end");
    assert.equal(ended.flowName, "Echo");
    assert.equal(ended.stepCount, 2);
    assert.ok(ended.endedAt);
    assert.ok(server.changes.filter((c) => c.id === json.executionId).some((c) => c.logged), "log lines are announced");

    // A broken build is pushed with its location; the last good version keeps running.
    const index = path.join(workspace, "src", "index.ts");
    fs.writeFileSync(index, fs.readFileSync(index, "utf8") + "\nconst broken: number = ;\n");
    const failed = await waitFor(() => server.builds.find((b) => !b.ok), 30_000, "the failed build");
    assert.match(failed.error!, /index\.ts:\d+:\d+/);

    // Settings are read at start-up: a change says it needs a restart. The client sends every
    // setting, defaults included, at start: that is no change.
    await server.connection.sendNotification("workspace/didChangeConfiguration", { settings: { refract: { port: 0, dataDir, retentionDays: 3, host: "127.0.0.1", executionTimeoutS: 900, memoryLimitMb: 1024, maxConcurrency: 500, entry: "", trace: { server: "off" } } } });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(server.messages, [], "the same settings, defaults spelled out, are no change");
    await server.connection.sendNotification("workspace/didChangeConfiguration", { settings: { refract: { port: 0, dataDir, retentionDays: 7 } } });
    const warning = await waitFor(() => server.messages.find((m) => /restart the runtime to apply retentionDays$/.test(m.message)), 20_000, "the restart warning");
    assert.equal(warning.type, 2);

    assert.equal(await server.stop(), 0);
    assert.ok(!fs.existsSync(path.join(dataDir, "lock")), "shutdown stops the runtime and releases the data dir");
  });

  it("says which settings are wrong and starts with the defaults for them", async () => {
    const workspace = copyFixture("basic");
    const server = new LanguageServer();
    const settings = { port: "eighty", retentionDays: -1, memoryLimitMb: 1e9, dataDir: 7, entry: "", host: "no such host!" };
    await server.initialize(workspace, settings);
    const info = await server.connection.sendRequest(RuntimeInfoRequest);
    assert.ok(info.port > 0);
    assert.equal(info.dataDir, path.join(workspace, ".refract"));
    assert.match(info.apiUrl, /^http:\/\/127\.0\.0\.1:/);
    const errors = server.messages.filter((m) => m.type === 1).map((m) => m.message);
    assert.ok(errors.some((m) => /refract\.port must be a whole number from 0 to 65535, not "eighty"; using the default$/.test(m)));
    assert.ok(errors.some((m) => /refract\.retentionDays/.test(m)));
    assert.ok(errors.some((m) => /refract\.memoryLimitMb/.test(m)));
    assert.ok(errors.some((m) => /refract\.dataDir must be a non-empty string/.test(m)));
    assert.ok(errors.some((m) => /refract\.host must be an IP address or a host name, not "no such host!"/.test(m)));
    assert.equal(errors.length, 5, "an empty entry means the default");

    // The client sends the settings again right after initialize: the same problems are not shown twice.
    await server.connection.sendNotification("workspace/didChangeConfiguration", { settings: { refract: settings } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.messages.length, 5, server.messages.map((m) => m.message).join("\n"));
    // A problem fixed and made again is shown again.
    await server.connection.sendNotification("workspace/didChangeConfiguration", { settings: { refract: { ...settings, port: 0 } } });
    await server.connection.sendNotification("workspace/didChangeConfiguration", { settings: { refract: settings } });
    await waitFor(() => server.messages.filter((m) => /refract\.port must be/.test(m.message)).length === 2, 20_000, "the port problem shown again");
    assert.equal(server.messages.length, 7, "and one warning: port 0 needs a restart");
    assert.equal(await server.stop(), 0);
  });

  it("an address that is not this machine's is shown as a problem and the default serves; a data dir spelled another way is no change", async () => {
    const workspace = copyFixture("basic");
    const server = new LanguageServer();
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
    await server.initialize(workspace, { port: 0, host: "192.0.2.1", dataDir: ".refract", retentionDays: 0 });
    const info = await server.connection.sendRequest(RuntimeInfoRequest);
    assert.match(info.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/);
    assert.deepEqual(server.messages.map((m) => [m.type, m.message]), [
      [1, "Refract: refract.retentionDays must be a whole number from 1 to 36500, not 0; using the default"],
      [1, "Refract: refract.host: Cannot listen on 192.0.2.1:0: listen EADDRNOTAVAIL: address not available 192.0.2.1; using the default"],
    ]);
    await server.connection.sendNotification("workspace/didChangeConfiguration", { settings: { refract: { port: 0, host: "192.0.2.1", dataDir: path.join(workspace, "x", "..", ".refract/"), retentionDays: 0 } } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.messages.length, 2, server.messages.map((m) => m.message).join("\n"));
    assert.equal(await server.stop(), 0);
  });

  it("an unusable data dir (under /proc, where Node's recursive mkdir never returns) is named at once; the server keeps answering", async () => {
    const server = new LanguageServer();
    await server.initialize(copyFixture("basic"), { port: 0, dataDir: "/proc/refract/data" });
    await assert.rejects(server.connection.sendRequest(RuntimeInfoRequest), /ENOENT/);
    const error = await waitFor(() => server.messages.find((m) => m.type === 1), 20_000, "the error");
    assert.match(error.message, /^Refract could not start: Cannot use \/proc\/refract\/data as the data dir: ENOENT/);
    assert.equal(await server.stop(), 0);
  });

  it("stops its runtime and exits when the client's IPC channel closes, even when initialize named no client pid", async () => {
    const workspace = copyFixture("basic");
    const dataDir = tmpDir("lsp-orphan");
    const server = new LanguageServer();
    await server.initialize(workspace, { port: 0, dataDir }, null);
    const echoUrl = async (s: LanguageServer) => {
      const info = await s.connection.sendRequest(RuntimeInfoRequest);
      const api = await postJson(info.apiUrl, { query: "{ integrations { nodes { flows { nodes { name testUrl } } } } }" }, { authorization: `Bearer ${info.token}` });
      return { info, url: api.json.data.integrations.nodes[0].flows.nodes.find((f: any) => f.name === "Echo").testUrl as string };
    };
    const { json } = await postJson(`${(await echoUrl(server)).url}?sleep=1500`, { running: "as the client goes" });
    server.child.disconnect(); // as when the extension host dies
    assert.equal(await server.exited, 1, "no shutdown came: exit code 1");
    assert.ok(!fs.existsSync(path.join(dataDir, "lock")), "the runtime stopped and released the data dir");

    // The execution that was running finished before the runtime stopped.
    const again = new LanguageServer();
    await again.initialize(workspace, { port: 0, dataDir });
    const { info } = await echoUrl(again);
    const { json: result } = await postJson(info.apiUrl, { query: `query($id: ID!) { executionResult(id: $id) { status } }`, variables: { id: json.executionId } }, { authorization: `Bearer ${info.token}` });
    assert.deepEqual(result.data, { executionResult: { status: "SUCCESS" } });
    assert.equal(await again.stop(), 0);
  });


  it("editor features on the integration's source: CodeLens, diagnostics, hover, completion", async () => {
    const workspace = copyFixture("basic");
    const server = new LanguageServer();
    await server.initialize(workspace, { port: 0 });
    const info = await server.connection.sendRequest(RuntimeInfoRequest);
    const index = path.join(workspace, "src", "index.ts");
    const uri = pathToFileURL(index).href;
    const text = fs.readFileSync(index, "utf8");
    await server.connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "typescript", version: 1, text } });
    const at = (needle: string, delta = 0) => {
      const offset = text.indexOf(needle) + delta;
      const before = text.slice(0, offset).split("\n");
      return { line: before.length - 1, character: before.at(-1)!.length };
    };

    // CodeLens: Run on every flow; after a run, Replay last and a status.
    const lenses = async () => (await server.connection.sendRequest("textDocument/codeLens", { textDocument: { uri } })) as Array<{ range: any; command: { title: string; command: string; arguments: any[] } }>;
    const echoLine = at('name: "Echo"').line - 1;
    assert.deepEqual((await lenses()).filter((l) => l.range.start.line === echoLine).map((l) => l.command.title), ["▶ Run"]);
    assert.deepEqual((await lenses()).find((l) => l.range.start.line === echoLine)!.command.arguments, [{ flowName: "Echo" }]);
    const flows = (await postJson(info.apiUrl, { query: "{ integrations { nodes { flows { nodes { name testUrl } } } } }" }, { authorization: `Bearer ${info.token}` })).json.data.integrations.nodes[0].flows.nodes;
    const url = (name: string) => flows.find((f: any) => f.name === name).testUrl;
    const json = (await postJson(url("Echo"), {})).json;
    await waitFor(() => server.changes.find((c) => c.id === json.executionId && c.status === "SUCCESS"), 20_000, "the Echo run");
    const echoLenses = (await lenses()).filter((l) => l.range.start.line === echoLine).map((l) => l.command.title);
    assert.equal(echoLenses[1], "↻ Replay last");
    assert.match(echoLenses[2], /^✓ 1 run · last just now · \d+ ms$/);

    // The source line where the last execution of a flow failed, from its mapped stack.
    const failed = (await postJson(url("Throws"), {})).json;
    await waitFor(() => server.changes.find((c) => c.id === failed.executionId && c.status === "ERROR"), 20_000, "the Throws run");
    const failure = await waitFor(() => server.diagnostics.get(uri)?.find((d) => /last execution of flow "Throws" failed here: boom from the flow/.test(d.message)), 20_000, "the failure diagnostic");
    assert.equal(failure.range.start.line, at('throw new Error("boom from the flow")').line);
    const throwsLenses = (await lenses()).filter((l) => l.range.start.line === at('name: "Throws"').line - 1).map((l) => l.command.title);
    assert.equal(throwsLenses[2], "✗ last run failed: boom from the flow");

    // A canceled last run is not a success.
    const long = (await postJson(`${url("Echo")}?sleep=5000`, {})).json.executionId;
    await waitFor(() => server.changes.find((c) => c.id === long), 20_000, "the long Echo run");
    const canceled = await postJson(info.apiUrl, { query: `mutation { cancelExecution(input: { id: "${long}" }) { errors { messages } } }` }, { authorization: `Bearer ${info.token}` });
    assert.deepEqual(canceled.json.data.cancelExecution.errors, []);
    await waitFor(() => server.changes.find((c) => c.id === long && c.status === "CANCELED"), 20_000, "the cancel");
    assert.equal((await lenses()).filter((l) => l.range.start.line === echoLine)[2].command.title, "⊘ last run canceled");

    // Hover on a flow: its webhook URL on the system instance.
    const hover: any = await server.connection.sendRequest("textDocument/hover", { textDocument: { uri }, position: at('name: "Echo"', 8) });
    assert.ok(hover.contents.value.includes(url("Echo")));

    // Source diagnostics: a duplicate name, an invalid schedule, invokeFlow to a flow that does not exist; completion of flow names.
    const edited = text.replace('name: "Sync Echo"', 'name: "Echo"') + `\nexport const extra = flow({ name: "Extra", stableKey: "extra", schedule: { value: "61 * * * *" }, onExecution: async (context) => { await context.invokeFlow("Nope", {}); await context.invokeFlow("Ec", {}); return { data: null }; } });\n`;
    await server.connection.sendNotification("textDocument/didChange", { textDocument: { uri, version: 2 }, contentChanges: [{ text: edited }] });
    const messages = await waitFor(() => {
      const list = server.diagnostics.get(uri)?.map((d) => d.message) ?? [];
      return list.some((m) => /no flow named "Nope"/.test(m)) ? list : undefined;
    }, 20_000, "the source diagnostics");
    assert.ok(messages.some((m) => m === 'Another flow already has the name "Echo"'));
    assert.ok(messages.some((m) => /^This schedule has an invalid cron expression "61 \* \* \* \*"/.test(m)));
    assert.ok(messages.some((m) => /no flow named "Ec"/.test(m)), "a partial name is not a flow either");
    const offset = edited.indexOf('invokeFlow("Ec') + 'invokeFlow("Ec'.length;
    const lines = edited.slice(0, offset).split("\n");
    const completion: any = await server.connection.sendRequest("textDocument/completion", { textDocument: { uri }, position: { line: lines.length - 1, character: lines.at(-1)!.length } });
    const labels = (Array.isArray(completion) ? completion : completion.items).map((c: any) => c.label);
    assert.ok(labels.includes("Echo") && labels.includes("Extra") && labels.includes("Binary"));
    assert.equal(await server.stop(), 0);
  });

  it("two windows on two projects: the second runtime takes the next free port and says so", async () => {
    const first = new LanguageServer();
    await first.initialize(copyFixture("basic"), {});
    const a = await first.connection.sendRequest(RuntimeInfoRequest);
    const second = new LanguageServer();
    await second.initialize(copyFixture("basic"), {});
    const b = await second.connection.sendRequest(RuntimeInfoRequest);
    assert.notEqual(a.port, b.port);
    const message = await waitFor(() => second.messages.find((m) => /port 7780 is taken \(by another window\?\); this window's runtime uses \d+/.test(m.message)), 10_000, "the port message");
    assert.ok(message.message.endsWith(String(b.port)));
    assert.equal(await second.stop(), 0);
    assert.equal(await first.stop(), 0);
  });

  it("survives hostile documents and a damaged stored result, and refuses a second initialize", async () => {
    const workspace = copyFixture("basic");
    const dataDir = tmpDir("lsp-hostile");
    const server = new LanguageServer();
    await server.initialize(workspace, { port: 0, dataDir });
    await assert.rejects(server.initialize(workspace, { port: 0, dataDir }), /already initialized/, "one runtime per data dir");
    const info = await server.connection.sendRequest(RuntimeInfoRequest);
    // A failed execution whose stored result is then damaged: its diagnostic needs that result.
    await waitFor(() => server.builds.at(-1)?.ok, 20_000, "a good build");
    const flows = (await (await fetch(info.apiUrl, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${info.token}` }, body: JSON.stringify({ query: "{ integrations { nodes { flows { nodes { name testUrl } } } } }" }) })).json()) as any;
    const throws = flows.data.integrations.nodes[0].flows.nodes.find((f: any) => f.name === "Throws").testUrl;
    const failed = (await postJson(throws, {})).json.executionId;
    await waitFor(() => server.changes.find((c) => c.id === failed && c.status === "ERROR"), 20_000, "the failed run");
    for (const day of fs.readdirSync(path.join(dataDir, "executions"))) {
      const blobs = path.join(dataDir, "executions", day, "blobs.bin");
      if (fs.existsSync(blobs)) fs.writeFileSync(blobs, Buffer.alloc(fs.statSync(blobs).size, 0xc1));
    }
    for (const [uri, text] of [
      ["file://otherhost/share/x.ts", "x"],
      ["file:///tmp/a%2Fb.ts", "y"],
      ["file:///tmp/not-text.ts", 12345],
    ] as const) {
      await server.connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "typescript", version: 1, text } });
    }
    for (const uri of ["file://otherhost/share/x.ts", "file:///tmp/a%2Fb.ts"]) {
      assert.deepEqual(await server.connection.sendRequest("textDocument/codeLens", { textDocument: { uri } }), [], uri);
      assert.equal(await server.connection.sendRequest("textDocument/hover", { textDocument: { uri }, position: { line: 0, character: 0 } }), null, uri);
    }
    // Features are the workspace folder's: another project's file gets none.
    const elsewhere = pathToFileURL(path.join(tmpDir("lsp-elsewhere"), "index.ts")).href;
    await server.connection.sendNotification("textDocument/didOpen", { textDocument: { uri: elsewhere, languageId: "typescript", version: 1, text: 'flow({ name: "Echo" }); context.invokeFlow("Nope", {});' } });
    assert.deepEqual(await server.connection.sendRequest("textDocument/codeLens", { textDocument: { uri: elsewhere } }), []);
    // Diagnostics in linear time: 60,000 of them in one file (their list was copied for each one).
    const many = pathToFileURL(path.join(workspace, "src", "many.ts")).href;
    await server.connection.sendNotification("textDocument/didOpen", { textDocument: { uri: many, languageId: "typescript", version: 1, text: 'context.invokeFlow("Nope", {});\n'.repeat(60_000) } });
    await server.connection.sendNotification("textDocument/didOpen", { textDocument: { uri: pathToFileURL(path.join(workspace, "src/index.ts")).href, languageId: "typescript", version: 1, text: fs.readFileSync(path.join(workspace, "src/index.ts"), "utf8") } });
    await waitFor(() => server.diagnostics.get(many)?.length === 60_000 || undefined, 20_000, "the 60,000 diagnostics");
    assert.equal(server.diagnostics.get(elsewhere), undefined, "none for another project's file");
    assert.equal(server.child.exitCode, null, "still running");
    assert.ok(await server.connection.sendRequest(RuntimeInfoRequest), "and answering");
    assert.equal(await server.stop(), 0);
  });

  it("survives malformed protocol messages: cancels that name no request, requests and notifications with wrong params", async () => {
    const server = new LanguageServer();
    await server.initialize(copyFixture("basic"), { port: 0, dataDir: tmpDir("lsp-malformed") });
    const alive = <T>(request: Promise<T>) => Promise.race([request, server.exited.then((code) => assert.fail(`the server exited with ${code}`))]);
    // Raw over the IPC channel, as a broken client would send them (the protocol library types them away).
    for (const params of [{}, null, undefined, { id: null }, { id: {} }, "x", 5, []]) server.child.send({ jsonrpc: "2.0", method: "$/cancelRequest", params });
    server.child.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 424242 } }); // well formed, for no pending request
    for (const method of ["textDocument/didOpen", "textDocument/didChange", "textDocument/didClose", "workspace/didChangeConfiguration", "$/setTrace"]) {
      for (const params of [{}, null, { textDocument: 5 }, { textDocument: { uri: "file:///nope.ts" }, contentChanges: [{}] }]) server.child.send({ jsonrpc: "2.0", method, params });
    }
    for (const method of ["textDocument/hover", "textDocument/codeLens", "textDocument/completion"]) {
      for (const params of [{}, { textDocument: 5 }, { textDocument: { uri: "file:///nope.ts" }, position: { line: -1, character: "x" } }]) {
        await alive(server.connection.sendRequest(method, params).catch((err: Error) => err)); // answered, with a result or an error
      }
    }
    assert.ok((await alive(server.connection.sendRequest(RuntimeInfoRequest))).apiUrl, "still answering");
    assert.equal(await server.stop(), 0);
  });

  it("over --stdio (how other editors start it) survives malformed cancels too, refuses requests after shutdown, and exits 0 after exit", async () => {
    // Stream transports catch what the protocol library throws on a cancel without an id (it
    // becomes a read error); only node IPC needed the filter. This pins that down.
    const child = fork(CLI, ["--stdio"], { stdio: ["pipe", "pipe", "pipe", "ipc"] });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const connection = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    connection.onNotification("window/logMessage", () => {});
    connection.listen();
    const alive = <T>(request: Promise<T>) => Promise.race([request, exited.then((code) => assert.fail(`the server exited with ${code}`))]);
    const raw = (message: object) => {
      const body = Buffer.from(JSON.stringify(message));
      child.stdin!.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
    };
    for (const params of [{}, null, { id: null }, { id: {} }, 5]) raw({ jsonrpc: "2.0", method: "$/cancelRequest", params });
    const init: any = await alive(connection.sendRequest("initialize", { processId: process.pid, rootUri: pathToFileURL(copyFixture("basic")).href, capabilities: {}, initializationOptions: { port: 0, dataDir: tmpDir("lsp-stdio") } }));
    assert.equal(init.serverInfo.name, "refract");
    assert.ok((await alive(connection.sendRequest(RuntimeInfoRequest))).apiUrl, "answering after the malformed cancels");
    await connection.sendRequest("shutdown");
    // LSP: requests after a shutdown are errors (InvalidRequest), the editor features' too.
    await assert.rejects(connection.sendRequest(RuntimeInfoRequest), (err: any) => err.code === -32600 && /shut down/.test(err.message));
    const hover = { textDocument: { uri: pathToFileURL(path.join(tmpDir("lsp-stdio-doc"), "index.ts")).href }, position: { line: 0, character: 0 } };
    await assert.rejects(connection.sendRequest("textDocument/hover", hover), (err: any) => err.code === -32600);
    await connection.sendNotification("exit");
    assert.equal(await exited, 0);
  });

  it("exits 1 on an exit without a shutdown, as LSP says, and the data dir it leaves serves again", async () => {
    const workspace = copyFixture("basic");
    const dataDir = tmpDir("lsp-exit");
    const server = new LanguageServer();
    await server.initialize(workspace, { port: 0, dataDir });
    await server.connection.sendRequest(RuntimeInfoRequest);
    await server.connection.sendNotification("exit");
    assert.equal(await server.exited, 1);
    const again = new LanguageServer();
    await again.initialize(workspace, { port: 0, dataDir });
    assert.equal((await again.connection.sendRequest(RuntimeInfoRequest)).dataDir, dataDir, "the lock of a process that is gone is taken over");
    assert.equal(await again.stop(), 0);
  });

  it("is started over a socket or a pipe as clients write it: --socket=N, --socket N, --pipe=NAME, --pipe NAME", async () => {
    // The client listens; the server connects to it (vscode-jsonrpc's server transports).
    for (const kind of ["socket", "pipe"] as const) {
      for (const spaced of [false, true]) {
        const listener = net.createServer();
        const pipe = path.join(tmpDir("lsp-pipe"), "lsp.sock");
        await new Promise<void>((resolve) => (kind === "socket" ? listener.listen(0, "127.0.0.1", resolve) : listener.listen(pipe, resolve)));
        const name = kind === "socket" ? String((listener.address() as net.AddressInfo).port) : pipe;
        const accepted = new Promise<net.Socket>((resolve) => listener.once("connection", resolve));
        const child = fork(CLI, spaced ? [`--${kind}`, name] : [`--${kind}=${name}`], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
        const exited = new Promise((resolve) => child.on("exit", (code) => resolve(`exited with ${code}`)));
        const socket = await Promise.race([accepted, exited.then((why) => assert.fail(`${kind} ${spaced ? "spaced" : "with ="}: ${why}`))]);
        const connection = createProtocolConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
        connection.listen();
        await assert.rejects(connection.sendRequest("initialize", { processId: null, rootUri: null, capabilities: {} }), /needs a workspace folder on disk/);
        connection.dispose();
        child.kill();
        await exited;
        listener.close();
      }
    }
  });

  it("refuses to start without a workspace folder on disk", async () => {
    const server = new LanguageServer();
    await assert.rejects(server.connection.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: {} }), /needs a workspace folder on disk/);
    server.child.kill();
  });
});
