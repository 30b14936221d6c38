import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { decode } from "@msgpack/msgpack";
import { TestServer, copyFixture, fillDisk, post, postJson, startServer, waitFor } from "../helpers";

/** Raw HTTP, for requests fetch will not send (odd headers, broken framing). */
function rawRequest(port: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text));
    let answer = "";
    socket.on("data", (d) => (answer += d.toString()));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    setTimeout(() => (socket.destroy(), resolve(answer)), 3000);
  });
}

describe("webhooks (INTERFACES.md §2)", function () {
  let s: TestServer;
  before(async () => {
    s = await startServer(copyFixture("basic"), { syncTimeoutS: 1, maxBodyMb: 1 });
  });
  after(() => s.stop());

  it("accepts an async request, answers with the execution id, and stores the execution with both step results and its logs", async () => {
    const res = await postJson(`${s.flows["Echo"]}/orders/42?source=test&x=1`, { order: 1 }, { "X-Custom-Header": "Kept-Casing" });
    assert.equal(res.status, 200);
    const id = res.json.executionId;
    assert.ok(id);
    assert.equal(res.headers.get("prismatic-executionid"), id);
    // Found right after the answer, before it ends.
    assert.ok(s.runtime.store.executions.get(id));

    const x = await s.waitForEnd(id);
    assert.equal(x.status, "SUCCESS");
    assert.equal(x.resultType, "COMPLETED");
    assert.equal(x.invokeType, "INTEGRATION_FLOW_TEST");
    assert.equal(x.scope.isTestExecution, true);
    assert.equal(x.error, null);
    assert.equal(x.versionNumber, s.runtime.build.versionNumber);
    assert.ok(x.runStartedAt! >= x.startedAt && x.endedAt! >= x.runStartedAt!);

    const trigger = (await s.step(x, "onTrigger"));
    assert.equal(trigger.contentType, "application/json");
    assert.equal(typeof trigger.data, "string", "JSON step results are stored as a string holding the JSON text");
    const payload = JSON.parse(trigger.data as string);
    assert.deepEqual(payload.body.data, { order: 1 });
    assert.equal(payload.pathFragment, "orders/42");
    assert.deepEqual(payload.queryParameters, { source: "test", x: "1" });
    assert.equal(payload.headers["X-Custom-Header"], "Kept-Casing");

    const result = JSON.parse((await s.step(x, "onExecution")).data as string);
    assert.deepEqual(result.body, { order: 1 });
    assert.equal(result.executionId, id);
    assert.equal(result.configVars["Api Base"], "https://example.test");
    assert.equal(result.configVars["Verbose"], true);
    assert.equal(result.customer.name, "Refract Test Customer");
    assert.equal(result.flow.name, "Echo");
    assert.equal(result.webhookUrls["Echo"], s.flows["Echo"]);
    assert.equal(result.invokeUrl, `${s.flows["Echo"]}/orders/42?source=test&x=1`);

    const logs = await s.runtime.logs.ofExecution(x);
    assert.match(logs[0].message, /^Starting Instance Execution/);
    assert.match(logs[logs.length - 1].message, /^Ending Instance Execution/);
    const bySeverity = (sev: string) => logs.filter((l) => l.severity === sev).map((l) => l.message);
    assert.ok(bySeverity("TRACE").includes("trace line"));
    assert.ok(bySeverity("DEBUG").includes("debug line"));
    assert.ok(bySeverity("INFO").includes("info line { n: 1 }"));
    assert.ok(bySeverity("WARN").includes("warn line"));
    assert.ok(bySeverity("ERROR").includes("error line"));
    assert.ok(bySeverity("METRIC").length === 1);
    assert.ok(bySeverity("INFO").includes("console line"), "console.log is captured");
    assert.ok(bySeverity("WARN").includes("console warn line"), "console.warn is captured");
    assert.ok(bySeverity("INFO").includes("{ a: [Object] }"), "console.dir takes util.inspect's options, as Node's does");
    assert.ok(bySeverity("WARN").some((m) => m.includes("Api Secret")), "a WARN names required config variables without a value");
    assert.ok(logs.every((l) => l.executionId === id));
    assert.ok(logs.filter((l) => l.message === "info line { n: 1 }").every((l) => l.stepName === "onExecution"));
  });

  it("runs many requests to one flow concurrently", async () => {
    const ids = await Promise.all(Array.from({ length: 12 }, () => postJson(`${s.flows["Echo"]}?sleep=400`, {}).then((r) => r.json.executionId as string)));
    const runs = await Promise.all(ids.map((id) => s.waitForEnd(id)));
    assert.ok(runs.every((x) => x.status === "SUCCESS"));
    // Every run overlaps every other: they were all running at one moment.
    const latestStart = Math.max(...runs.map((x) => x.runStartedAt!));
    const earliestEnd = Math.min(...runs.map((x) => x.endedAt!));
    assert.ok(latestStart < earliestEnd, "the executions did not all run at the same time");
  });

  it("runs a flow whose JSON body does not parse, with the raw text as the body", async () => {
    const res = await post(s.flows["Echo"], '{"broken": ', { "content-type": "application/json" });
    const x = await s.waitForEnd(res.json.executionId);
    assert.equal(x.status, "SUCCESS");
    assert.equal(JSON.parse((await s.step(x, "onExecution")).data as string).body, '{"broken": ');
  });

  it("takes empty, binary and non-UTF-8 bodies", async () => {
    const empty = await post(s.flows["Echo"], undefined, {}, "GET");
    assert.equal(empty.status, 200);
    const xe = await s.waitForEnd(empty.json.executionId);
    assert.equal(JSON.parse((await s.step(xe, "onExecution")).data as string).rawLength, 0);

    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
    const bin = await post(s.flows["Echo"], png, { "content-type": "image/png" }, "PUT");
    const xb = await s.waitForEnd(bin.json.executionId);
    assert.deepEqual(JSON.parse((await s.step(xb, "onExecution")).data as string).body, { buffer: png.length });

    const latin1 = Buffer.from("café", "latin1");
    const odd = await post(s.flows["Echo"], latin1, {}, "PATCH");
    const xo = await s.waitForEnd(odd.json.executionId);
    assert.equal(xo.status, "SUCCESS");
    assert.deepEqual(JSON.parse((await s.step(xo, "onExecution")).data as string).body, { buffer: latin1.length }, "bytes that are not UTF-8 reach the flow as a Buffer");
    const oddText = await post(s.flows["Echo"], latin1, { "content-type": "text/plain" });
    const xt = await s.waitForEnd(oddText.json.executionId);
    assert.deepEqual(JSON.parse((await s.step(xt, "onExecution")).data as string).body, { buffer: latin1.length }, "so do they under a text content type");
    const oddJson = await post(s.flows["Echo"], latin1, { "content-type": "application/json" });
    const xj = await s.waitForEnd(oddJson.json.executionId);
    assert.deepEqual(JSON.parse((await s.step(xj, "onExecution")).data as string).body, { buffer: latin1.length }, "and under a JSON one (they are not JSON)");
    const text = await post(s.flows["Echo"], "café", { "content-type": "text/plain; charset=utf-8" });
    assert.equal(JSON.parse((await s.step(await s.waitForEnd(text.json.executionId), "onExecution")).data as string).body, "café");
  });

  it("stores binary step results as MessagePack bin with their content type", async () => {
    const res = await post(s.flows["Binary"], "x");
    const x = await s.waitForEnd(res.json.executionId);
    const step = (await s.step(x, "onExecution"));
    assert.equal(step.contentType, "image/png");
    assert.ok(step.data instanceof Uint8Array);
    assert.deepEqual(Buffer.from(step.data as Uint8Array), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]));
  });

  it("answers a synchronous flow with its result, status, content type and headers", async () => {
    const res = await postJson(s.flows["Sync Echo"], { name: "refract" });
    assert.equal(res.status, 201);
    assert.equal(res.text, "<ok>refract</ok>");
    assert.equal(res.headers.get("content-type"), "application/xml");
    assert.equal(res.headers.get("x-flow"), "sync");
    const id = res.headers.get("prismatic-executionid")!;
    assert.equal((await s.waitForEnd(id)).status, "SUCCESS");
  });

  it("answers a synchronous flow only once its end is handed to the OS (a crash after the answer must not run it again)", async () => {
    // At the moment the answer's head is written, the journal on disk already says the execution ended.
    const journalSays = (id: string) => {
      const root = path.join(s.runtime.options.dataDir, "executions");
      return fs.readdirSync(root).some((day) => fs.readFileSync(path.join(root, day, "journal.ndjson"), "utf8").includes(`{"e":"ended","id":"${id}"`));
    };
    const seen: boolean[] = [];
    const writeHead = http.ServerResponse.prototype.writeHead;
    http.ServerResponse.prototype.writeHead = function (this: http.ServerResponse, ...args: any[]) {
      const id = args.find((a) => a && typeof a === "object" && a["prismatic-executionid"])?.["prismatic-executionid"];
      if (id) seen.push(journalSays(id));
      return (writeHead as any).apply(this, args);
    } as any;
    try {
      const res = await postJson(s.flows["Sync Echo"], { name: "durable" });
      assert.equal(res.status, 201);
    } finally {
      http.ServerResponse.prototype.writeHead = writeHead;
    }
    assert.deepEqual(seen, [true]);
  });

  it("keeps a synchronous answer well-formed whatever the flow returns", async () => {
    const odd = await postJson(`${s.flows["Sync Echo"]}?odd=1`, {});
    assert.equal(odd.status, 200, "1xx is not a final status");
    const oddLog = await s.runtime.logs.ofExecution(await s.waitForEnd(odd.headers.get("prismatic-executionid")!));
    const warned = oddLog.filter((l) => l.severity === "WARN").map((l) => l.message);
    assert.ok(warned.includes("The response's statusCode 101 is not a final HTTP status (200 to 599): answered with 200"));
    assert.ok(warned.includes(`The response's header "X-Bad" is left out: its value is not a valid header value`));
    // Trailer too: Node refuses to end a response with a length that announces trailers (500, no execution id).
    for (const framing of ["Content-Length", "Transfer-Encoding", "Trailer", "Content-Type"]) assert.ok(warned.includes(`The response's header "${framing}" is left out: Refract sets it`), framing);
    assert.ok(!warned.some((m) => m.includes("X-Fine")));
    assert.equal(odd.text, "odd");
    assert.equal(odd.headers.get("content-type"), "text/plain");
    assert.equal(odd.headers.get("content-length"), "3");
    assert.equal(odd.headers.get("transfer-encoding"), null);
    assert.equal(odd.headers.get("x-bad"), null);
    assert.equal(odd.headers.get("__proto__"), "kept", "a header named __proto__ is a header like any other");
    assert.equal(odd.headers.get("x-fine"), "yes");
    const circular = await postJson(`${s.flows["Sync Echo"]}?circular=1`, {});
    assert.equal(circular.status, 500);
    assert.match(circular.json.error, /circular structure/i);
    assert.equal((await s.waitForEnd(circular.json.executionId)).status, "ERROR");
    const badType = await postJson(`${s.flows["Sync Echo"]}?contentType=${encodeURIComponent("text/plain; x=\u{1F600}")}`, {});
    assert.equal(badType.status, 500);
    assert.equal(badType.json.error, "The flow's response has a contentType that is not a valid header value");
    assert.equal(badType.headers.get("prismatic-executionid"), badType.json.executionId);
    assert.equal((await s.waitForEnd(badType.json.executionId)).status, "SUCCESS", "the execution itself succeeded");
    const untyped = await postJson(`${s.flows["Sync Echo"]}?contentType=`, {});
    assert.equal(untyped.headers.get("content-type"), "application/json", "an empty contentType means JSON, as for the stored result");
    const noContent = await postJson(`${s.flows["Sync Echo"]}?contentType=text/plain&status=204`, {});
    assert.equal(noContent.status, 204);
    assert.equal(noContent.headers.get("content-length"), null);
  });

  it("answers 500 with the error when a synchronous execution fails", async () => {
    const res = await postJson(`${s.flows["Sync Echo"]}?fail=1`, {});
    assert.equal(res.status, 500);
    assert.equal(res.json.error, "sync flow failed on request");
    assert.equal(res.json.executionId, res.headers.get("prismatic-executionid"));
    assert.equal((await s.waitForEnd(res.json.executionId)).status, "ERROR");
  });

  it("answers 504 when a synchronous execution passes --sync-timeout, and lets it finish", async () => {
    const res = await postJson(`${s.flows["Sync Echo"]}?sleep=1500`, {});
    assert.equal(res.status, 504);
    assert.match(res.json.error, /--sync-timeout/);
    const x = await s.waitForEnd(res.json.executionId);
    assert.equal(x.status, "SUCCESS");
  });

  it("makes an async flow synchronous with the prismatic-synchronous header", async () => {
    const res = await postJson(s.flows["Echo"], { hello: "sync" }, { "prismatic-synchronous": "true" });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.body, { hello: "sync" });
  });

  it("answers with the trigger's own response when onTrigger returns one", async () => {
    const res = await postJson(s.flows["Custom Response"], {});
    assert.equal(res.status, 202);
    assert.equal(res.text, "accepted by trigger");
    assert.equal(res.headers.get("x-trigger"), "yes");
    const x = await s.waitForEnd(res.headers.get("prismatic-executionid")!);
    assert.equal(x.status, "SUCCESS");
    assert.equal((await s.step(x, "onExecution")).data, "done");
  });

  it("answers 500 and records ERROR when a custom trigger throws", async () => {
    const res = await postJson(s.flows["Trigger Throws"], {});
    assert.equal(res.status, 500);
    assert.equal(res.json.error, "trigger exploded");
    const x = await s.waitForEnd(res.json.executionId);
    assert.equal(x.status, "ERROR");
    assert.equal(x.steps.length, 1);
    assert.equal(x.steps[0].hasError, true);
  });

  it("answers 404 for an unknown flow config, and for a malformed id", async () => {
    const unknown = await postJson(s.flows["Echo"].replace(/trigger\/.*/, "trigger/SW5zdGFuY2VGbG93Q29uZmlnOm5vcGU="), {});
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error, /No flow config/);
    const malformed = await post(s.url + "/trigger/%E0%A4%A", "x");
    assert.equal(malformed.status, 404);
    const elsewhere = await post(s.url + "/nothing", "x");
    assert.equal(elsewhere.status, 404);
  });

  it("answers 405 to methods webhooks do not take", async () => {
    const res = await post(s.flows["Echo"], undefined, {}, "OPTIONS");
    assert.equal(res.status, 405);
    assert.match(res.headers.get("allow")!, /POST/);
  });

  it("answers 413 to a body over --max-body, declared or streamed, and keeps serving", async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 0x61);
    const declared = await post(s.flows["Echo"], big, { "content-type": "text/plain" });
    assert.equal(declared.status, 413);
    assert.match(declared.json.error, /--max-body/);
    const port = Number(new URL(s.url).port);
    const path = new URL(s.flows["Echo"]).pathname;
    const chunked = await rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${(1024 * 1024 + 10).toString(16)}\r\n${"a".repeat(1024 * 1024 + 10)}\r\n0\r\n\r\n`);
    assert.match(chunked, /^HTTP\/1.1 413/);
    assert.equal((await postJson(s.flows["Echo"], {})).status, 200);
    // Expect: 100-continue with a declared body over the limit: 413 at once, no invitation to send it.
    const expect = (value: string, length: number) => rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\nExpect: ${value}\r\nConnection: close\r\n\r\n`);
    const early = await expect("100-continue", 1024 * 1024 + 1);
    assert.match(early, /^HTTP\/1.1 413/);
    assert.doesNotMatch(early, /100 Continue/);
    assert.match(await expect("100-continue", 0), /^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 OK/);
    const odd = await expect("teapot", 0);
    assert.match(odd, /^HTTP\/1.1 417/);
    assert.match(odd, /"error":"Expect: teapot is not one this server meets/);
  });

  it("answers oversized and malformed headers with a JSON error", async () => {
    const port = Number(new URL(s.url).port);
    const path = new URL(s.flows["Echo"]).pathname;
    const huge = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1.1 431/);
    assert.match(huge, /too large/);
    const broken = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`);
    assert.match(broken, /^HTTP\/1.1 400/);
    const connect = await rawRequest(port, `CONNECT ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(connect, /^HTTP\/1.1 405[^]*\r\n\r\n\{"error":"This server is not a proxy/);
    // No Host header (HTTP/1.0 clients send none): a webhook still runs; the API refuses an unknown host.
    const noHost = await rawRequest(port, `POST ${path} HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.match(noHost, /^HTTP\/1.1 200[^]*"executionId"/);
    const apiNoHost = await rawRequest(port, `POST /api HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.match(apiNoHost, /^HTTP\/1.1 403[^]*"error":"Host \\"\\" is not this server/);
    // Odd but legal: repeated headers are joined, empty values kept, casing kept.
    const res = await rawRequest(
      port,
      `POST ${path}?__proto__=q&constructor=c HTTP/1.1\r\nHost: x\r\nX-Dup: a\r\nX-Dup: b\r\nX-Empty:\r\n__proto__: p\r\nconstructor: c\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    const id = JSON.parse(res.slice(res.indexOf("\r\n\r\n") + 4)).executionId;
    const x = await s.waitForEnd(id);
    assert.equal(x.status, "SUCCESS");
    const echoed = JSON.parse((await s.step(x, "onExecution")).data as string);
    assert.equal(echoed.headers["X-Dup"], "a, b");
    assert.equal(echoed.headers["X-Empty"], "");
    assert.equal(echoed.headers["__proto__"], "p", "hostile header names are kept as headers");
    assert.equal(echoed.headers["constructor"], "c");
    assert.equal(echoed.query["__proto__"], "q");
    assert.equal(echoed.query["constructor"], "c");
  });

  it("answers 409 while the instance is disabled, and runs again once enabled", async () => {
    const system = s.runtime.instances.systemInstance(s.runtime.integration!.meta.id)!;
    s.runtime.instances.setEnabled(system.id, false);
    try {
      const res = await postJson(s.flows["Echo"], {});
      assert.equal(res.status, 409);
      assert.match(res.json.error, /disabled/);
    } finally {
      s.runtime.instances.setEnabled(system.id, true);
    }
    assert.equal((await postJson(s.flows["Echo"], {})).status, 200);
  });

  it("records the execution's flow, instance and customer, and prints one line per finished execution", async () => {
    const res = await postJson(s.flows["Echo"], {});
    const x = await s.waitForEnd(res.json.executionId);
    const line = await waitFor(() => s.lines.map((l) => JSON.parse(l)).find((o) => o.event === "execution" && o.id === x.id));
    assert.equal(line.flow, "Echo");
    assert.equal(line.status, "SUCCESS");
    assert.equal(line.instance, x.scope.instanceId);
    assert.equal(line.invokeType, "INTEGRATION_FLOW_TEST");
    assert.equal(typeof line.durationMs, "number");
  });

  it("/events drops a reader that stops reading once 1 MB waits for it, rather than keeping every change for it", async () => {
    const { hostname, port } = new URL(s.url);
    const reader = net.connect(Number(port), hostname);
    reader.write(`GET /events HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${s.token}\r\n\r\n`);
    await new Promise((resolve) => reader.once("data", resolve));
    reader.pause();
    let closed = false;
    reader.on("close", () => (closed = true));
    // Each ended execution's change carries its error, 100,000 characters here: 15 MB in all,
    // more than the kernel's socket buffers take.
    for (let batch = 0; batch < 15; batch++) {
      const started = await Promise.all(Array.from({ length: 10 }, () => postJson(`${s.flows["Misbehaves"]}?what=huge`, {})));
      await Promise.all(started.map((r) => s.waitForEnd(r.json.executionId)));
    }
    reader.resume();
    reader.on("data", () => {});
    await waitFor(() => closed, 20_000, "the server to end the stalled stream");
    assert.equal((await postJson(s.flows["Echo"], {})).status, 200, "and the server goes on");
  });
});

describe("backpressure", () => {
  it("queues up to --max-concurrency executions, then holds new webhooks until there is room", async () => {
    const s = await startServer(copyFixture("basic"), { maxConcurrency: 1 });
    try {
      const first = await postJson(`${s.flows["Echo"]}?sleep=800`, {});
      const second = await postJson(s.flows["Echo"], { n: 2 });
      assert.equal(s.runtime.store.executions.get(second.json.executionId)!.status, "QUEUED", "the second waits in the queue");
      const third = await postJson(s.flows["Echo"], { n: 3 });
      const [x1, x2, x3] = await Promise.all([first, second, third].map((r) => s.waitForEnd(r.json.executionId)));
      assert.ok([x1, x2, x3].every((x) => x.status === "SUCCESS"));
      assert.ok(x2.runStartedAt! >= x1.endedAt!, "one at a time");
      assert.ok(x3.startedAt >= x1.endedAt!, "the third was accepted only once the first had ended and the queue had room");
    } finally {
      await s.stop();
    }
  });

  it("holds webhooks that arrive together, and lets held ones in only as the queue has room", async () => {
    const s = await startServer(copyFixture("basic"), { maxConcurrency: 2 });
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, s.runtime.queuedCount)), 5);
    try {
      // All at once: each sees the same queue before any of them is recorded, and as executions
      // end, all the held ones used to be let in together (the queue then went past ten times the
      // cap, and plain webhooks got 429).
      const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => postJson(`${s.flows["Echo"]}?sleep=150`, { i })));
      assert.deepEqual(answers.map((r) => r.status), answers.map(() => 200), "every webhook is answered 200, none 429");
      const ended = await Promise.all(answers.map((r) => s.waitForEnd(r.json.executionId)));
      assert.ok(ended.every((x) => x.status === "SUCCESS"));
      assert.ok(most <= 2, `at most --max-concurrency executions waited in the queue (saw ${most})`);
    } finally {
      clearInterval(sample);
      await s.stop();
    }
  });
});

describe("onTrigger results made from the stored request (triggerPayload.ts)", () => {
  it("gives a flow without a trigger of its own the payload as received, stored once as the request, with the context it ran in, the same bytes after a restart", async () => {
    const workspace = copyFixture("basic");
    let s = await startServer(workspace);
    const { instances, lifecycle } = s.runtime;
    const customer = instances.createCustomer({ name: "Acme", externalId: "acme-1" });
    const instance = instances.createInstance({ integrationId: s.runtime.integration!.meta.id, customerId: customer.id, name: "Acme Orders", configValues: { "Api Secret": "s3cret-value" } });
    await lifecycle.deploy(instance.id);
    const echo = instances.flowConfigOf(instance.id, s.runtime.integration!.meta.flowIds["echo"])!;
    const url = s.runtime.webhookUrl(echo.id);
    const body = Buffer.from(JSON.stringify({ order: 7, note: "é ".repeat(300) }));
    const first = (await post(`${url}/a%20b/c?x=1&y=%C3%A9`, body, { "content-type": "application/json", "X-Casing": "Kept" })).json.executionId;
    const binary = (await post(url, Buffer.from([0, 1, 2, 0xff]), { "content-type": "application/octet-stream" })).json.executionId;
    // The customer changes after those two ran: their results keep the name they ran with.
    instances.updateCustomer(customer.id, { name: "Acme Renamed" });
    const later = (await post(url, "{}", { "content-type": "application/json" })).json.executionId;

    const results = new Map<string, Buffer>();
    for (const id of [first, binary, later]) {
      const x = await s.waitForEnd(id);
      assert.equal(x.status, "SUCCESS");
      const step = x.steps[0];
      assert.equal(step.stepName, "onTrigger");
      assert.ok(step.payload, "the result is made from the request, not stored");
      // Served as every step result is: a signed blob URL answers the MessagePack.
      const { executionResult } = await s.data(`query($id: ID!) { executionResult(id: $id) { stepResults { nodes { stepName resultsUrl } } } }`, { id });
      const res = await fetch(executionResult.stepResults.nodes.find((n: any) => n.stepName === "onTrigger").resultsUrl);
      assert.equal(res.status, 200);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.deepEqual(bytes, await s.runtime.store.readStepResult(x, step));
      results.set(id, bytes);
    }

    const payloadOf = (id: string) => JSON.parse((decode(results.get(id)!) as { data: string }).data);
    const p = payloadOf(first);
    const x = s.runtime.store.executions.get(first)!;
    assert.deepEqual(Object.keys(p), ["headers", "queryParameters", "rawBody", "body", "pathFragment", "webhookUrls", "webhookApiKeys", "invokeUrl", "executionId", "customer", "instance", "user", "integration", "flow", "startedAt", "globalDebug"]);
    assert.equal(p.headers["X-Casing"], "Kept");
    assert.deepEqual(p.queryParameters, { x: "1", y: "é" });
    assert.deepEqual(p.rawBody, { data: body.toString("base64"), contentType: "application/json" });
    assert.deepEqual(p.body, { data: JSON.parse(body.toString()), contentType: "application/json" });
    assert.equal(p.pathFragment, "a b/c");
    assert.equal(p.webhookUrls["Echo"], url);
    assert.equal(p.invokeUrl, `${url}/a%20b/c?x=1&y=%C3%A9`);
    assert.equal(p.executionId, first);
    assert.deepEqual(p.customer, { id: customer.id, externalId: "acme-1", name: "Acme" });
    assert.deepEqual(p.instance, { id: instance.id, name: "Acme Orders" });
    assert.equal(p.flow.name, "Echo");
    assert.equal(p.startedAt, new Date(x.startedAt).toISOString());
    assert.equal(p.globalDebug, false);
    // What user code got is what the result says it got.
    const seen = JSON.parse((await s.step(x, "onExecution")).data as string);
    assert.deepEqual(seen.body, p.body.data);
    assert.deepEqual(seen.headers, p.headers);
    assert.equal(seen.rawLength, body.length);
    assert.deepEqual(payloadOf(binary).rawBody, { data: "AAEC/w==", contentType: "application/octet-stream" });
    assert.deepEqual(payloadOf(binary).body, { data: "AAEC/w==", contentType: "application/octet-stream" });
    assert.equal(payloadOf(later).customer.name, "Acme Renamed");

    // Stored once: the request. The journal names each context once, without config values.
    const dayDir = path.join(s.dataDir, "executions", x.day);
    await s.runtime.store.flushed();
    assert.ok(!fs.readFileSync(path.join(dayDir, "blobs.bin")).includes(body.toString("base64")), "the body is not stored again as base64");
    const contexts = fs.readFileSync(path.join(dayDir, "journal.ndjson"), "utf8").split("\n").filter((l) => l.startsWith('{"e":"context"'));
    assert.equal(contexts.length, 2, "one per context: before and after the customer changed");
    assert.ok(!contexts.join("").includes("s3cret-value"), "config values stay out of the journal");

    await s.stop();
    s = await startServer(workspace);
    try {
      for (const [id, bytes] of results) {
        const reloaded = await waitFor(() => s.runtime.store.executions.get(id), 20_000, "the journal read back");
        assert.deepEqual(await s.runtime.store.readStepResult(reloaded, reloaded.steps[0]), bytes, `${id}: the same bytes after a restart`);
      }
    } finally {
      await s.stop();
    }
  });
});

describe("webhooks on a full disk (ARCHITECTURE.md, Storage)", () => {
  it("answers 500 for the execution it could not record and never runs it, 503 while writes fail, and loses nothing once the disk takes them again", async () => {
    const s = await startServer(copyFixture("basic"));
    const store = s.runtime.store;
    let failedId: string;
    const ok: Array<[string, number]> = []; // recorded executions and the n they were sent
    try {
      const first = await postJson(s.flows["Echo"], { n: 1 });
      assert.equal(first.status, 200);
      ok.push([first.json.executionId, 1]);
      await s.waitForEnd(first.json.executionId);
      const before = new Set(store.executions.keys());
      const empty = fillDisk();
      let notRecorded, refused;
      try {
        notRecorded = await postJson(s.flows["Echo"], { n: 2 });
        refused = await postJson(s.flows["Echo"], { n: 3 });
      } finally {
        empty();
      }
      assert.equal(notRecorded.status, 500);
      assert.match(notRecorded.json.error, /^Could not record the execution: ENOSPC/);
      assert.equal(refused.status, 503, "while writes fail, new executions are refused rather than kept in memory");
      assert.match(refused.json.error, /cannot write to its data dir \(ENOSPC.*retry later/);
      const added = [...store.executions.values()].filter((x) => !before.has(x.id));
      assert.equal(added.length, 1, "the refused webhook recorded nothing");
      failedId = added[0].id;
      assert.equal(added[0].status, "ERROR");
      assert.match(added[0].error!, /its record could not be written: ENOSPC/);
      assert.equal(added[0].runStartedAt, null, "its caller was told it was not recorded: it never ran");

      await waitFor(() => store.writeError === null, 5000, "the writes to work again");
      const after = await postJson(s.flows["Echo"], { n: 4 });
      assert.equal(after.status, 200);
      ok.push([after.json.executionId, 4]);
      await s.waitForEnd(after.json.executionId);
    } finally {
      await s.stop();
    }

    const again = await startServer(s.workspace, { dataDir: s.dataDir });
    try {
      await again.runtime.storeLoaded;
      const failed = again.runtime.store.executions.get(failedId)!;
      assert.equal(failed.status, "ERROR", "nor does it run at the next start");
      assert.equal(failed.stepCount, 0);
      for (const [id, n] of ok) {
        const x = again.runtime.store.executions.get(id)!;
        assert.equal(x.status, "SUCCESS");
        assert.equal(JSON.parse((await again.step(x, "onTrigger")).data as string).body.data.n, n, "its step result is where its offset says");
      }
    } finally {
      await again.stop();
    }
  });
});
