import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { decode } from "@msgpack/msgpack";
import { parse, validate } from "graphql";
import { GraphQLClient } from "graphql-request";
import { ExecutionLogs, ExecutionSteps, OPERATIONS } from "../../protocol/prismatic-api/operations";
import { apiSchema } from "../../server/src/api";
import { ROOT, TestServer, copyFixture, postJson, startServer } from "../helpers";

describe("API clients: Prismatic's unpack recipe and Refract's own typed operations", function () {
  let s: TestServer;
  before(async () => {
    s = await startServer(copyFixture("basic"));
  });
  after(() => s.stop());

  it("a script written as Prismatic's docs say gets each step's real output (graphql-request, resultsUrl, MessagePack)", async () => {
    const { json } = await postJson(s.flows["Echo"], { order: 42, note: "unpack me" });
    await s.waitForEnd(json.executionId);
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [path.join(ROOT, "examples", "api", "step-results.mjs"), json.executionId], { env: { ...process.env, PRISMATIC_URL: s.url, PRISMATIC_API_KEY: s.token } }, (err, stdout, stderr) =>
        err ? reject(new Error(stderr)) : resolve(stdout),
      ),
    );
    const steps = out.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(
      steps.map((st) => [st.stepName, st.contentType]),
      [
        ["onTrigger", "application/json"],
        ["onExecution", "application/json"],
      ],
    );
    assert.deepEqual(steps[1].data.body, { order: 42, note: "unpack me" });
    assert.deepEqual(steps[0].data.body.data, { order: 42, note: "unpack me" });
  });

  it("resultsUrl answers GET with the bytes and HEAD with their length; a tampered or expired one gets 403", async () => {
    const { json } = await postJson(s.flows["Binary"], {});
    await s.waitForEnd(json.executionId);
    const data = await s.data(`query($id: ID!) { executionResult(id: $id) { stepResults { nodes { stepName resultsUrl resultsMetadataUrl } } requestPayloadUrl } }`, { id: json.executionId });
    const step = data.executionResult.stepResults.nodes.find((n: any) => n.stepName === "onExecution");
    const got = await fetch(step.resultsUrl);
    const bytes = new Uint8Array(await got.arrayBuffer());
    const decoded = decode(bytes) as { data: Uint8Array; contentType: string };
    assert.ok(decoded.data instanceof Uint8Array);
    const head = await fetch(step.resultsMetadataUrl, { method: "HEAD" });
    assert.equal(Number(head.headers.get("content-length")), bytes.byteLength);
    assert.ok(bytes.byteLength > 0);
    const tampered = step.resultsUrl.replace(/signature=./, (m: string) => m.slice(0, -1) + (m.endsWith("A") ? "B" : "A"));
    assert.equal((await fetch(tampered)).status, 403);
    const otherStep = step.resultsUrl.replace("/onExecution?", "/onTrigger?");
    assert.equal((await fetch(otherStep)).status, 403, "a signature covers its own path only");
    const expired = s.blobs.url(s.url, new URL(step.resultsUrl).pathname, -1);
    assert.equal((await fetch(expired)).status, 403);
    const request: any = await (await fetch(data.executionResult.requestPayloadUrl)).json();
    assert.equal(request.contentType, "application/json");
    assert.deepEqual(JSON.parse(Buffer.from(request.body, "base64").toString()), {});
  });

  it("the typed operations of protocol/ validate against the served schema and work through graphql-request", async () => {
    const schema = apiSchema();
    for (const [name, document] of Object.entries(OPERATIONS)) assert.deepEqual(validate(schema, parse(document)).map(String), [], name);
    const { json } = await postJson(s.flows["Echo"], { typed: true });
    await s.waitForEnd(json.executionId);
    const client = new GraphQLClient(`${s.url}/api`, { headers: { authorization: `Bearer ${s.token}` } });
    const { executionResult } = await client.request(ExecutionSteps, { id: json.executionId });
    assert.equal(executionResult?.status, "SUCCESS");
    assert.deepEqual(
      executionResult?.stepResults.nodes.map((n) => n.displayStepName),
      ["On Trigger", "On Execution"],
    );
    const first = await client.request(ExecutionLogs, { executionResult: json.executionId, first: 2 });
    assert.equal(first.logs.edges.length, 2);
    assert.equal(first.logs.pageInfo.hasNextPage, true);
    const rest = await client.request(ExecutionLogs, { executionResult: json.executionId, after: first.logs.pageInfo.endCursor });
    const messages = [...first.logs.edges, ...rest.logs.edges].map((e) => e.node.message);
    assert.equal(messages[0], "Starting Instance Execution...");
    assert.match(messages.at(-1)!, /^Ending Instance Execution \(SUCCESS/);
    assert.equal(new Set(messages).size, messages.length, "pages do not overlap");
  });
});
