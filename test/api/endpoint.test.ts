import * as assert from "node:assert/strict";
import { serverAudits } from "graphql-http";
import { TestServer, copyFixture, post, postJson, rawRequest, startServer } from "../helpers";

describe("the GraphQL endpoint (/api)", function () {
  let s: TestServer;
  before(async () => {
    s = await startServer(copyFixture("basic"));
  });
  after(() => s.stop());

  const query = JSON.stringify({ query: "{ authenticatedUser { name } }" });

  it("answers POST and GET with the bearer token, at /api and /api/, without an errors key on success", async () => {
    for (const path of ["/api", "/api/"]) {
      const { status, json } = await post(`${s.url}${path}`, query, { "content-type": "application/json", authorization: `Bearer ${s.token}` });
      assert.equal(status, 200);
      assert.ok(json.data.authenticatedUser.name);
      assert.ok(!("errors" in json), "the errors key is omitted when there are none (clients.md §2)");
    }
    const get = await post(`${s.url}/api?query=${encodeURIComponent("{ logSeverityLevels { id name } }")}`, undefined, { authorization: `Bearer ${s.token}` }, "GET");
    assert.equal(get.status, 200);
    assert.deepEqual(get.json.data.logSeverityLevels[2], { id: 3, name: "INFO" });
  });

  it("refuses a missing or wrong token with 401 and a JSON errors body, whatever the token's length", async () => {
    for (const authorization of [undefined, "Bearer ", "Bearer wrong", `Bearer ${s.token}x`, `Bearer ${s.token.slice(0, -1)}`, s.token, "Basic abc"]) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (authorization !== undefined) headers.authorization = authorization;
      const { status, json } = await post(`${s.url}/api`, query, headers);
      assert.equal(status, 401, `Authorization: ${authorization}`);
      assert.equal(typeof json.errors[0].message, "string");
      assert.equal(json.data, undefined);
    }
  });

  it("refuses a Host header that does not name this server (DNS rebinding), on /api and /results", async () => {
    const port = new URL(s.url).port;
    for (const path of ["/api", "/results/x/onTrigger?expires=1&signature=x"]) {
      const evil = await rawRequest(`${s.url}${path}`, { headers: { host: "evil.example", "content-type": "application/json", authorization: `Bearer ${s.token}` }, body: query });
      assert.equal(evil.status, 403, path);
      assert.match(JSON.parse(evil.body.toString()).error, /evil\.example/);
      const evilWithPort = await rawRequest(`${s.url}${path}`, { headers: { host: `evil.example:${port}`, "content-type": "application/json", authorization: `Bearer ${s.token}` }, body: query });
      assert.equal(evilWithPort.status, 403);
    }
    const local = await rawRequest(`${s.url}/api`, { headers: { host: `localhost:${port}`, "content-type": "application/json", authorization: `Bearer ${s.token}` }, body: query });
    assert.equal(local.status, 200);
  });

  it("refuses requests from another site's page and never sends CORS headers", async () => {
    const headers = { "content-type": "application/json", authorization: `Bearer ${s.token}` };
    const cross = await post(`${s.url}/api`, query, { ...headers, origin: "https://evil.example" });
    assert.equal(cross.status, 403);
    assert.equal(cross.headers.get("access-control-allow-origin"), null);
    const preflight = await post(`${s.url}/api`, undefined, { origin: "https://evil.example", "access-control-request-method": "POST" }, "OPTIONS");
    assert.notEqual(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    const sameOrigin = await post(`${s.url}/api`, query, { ...headers, origin: s.url });
    assert.equal(sameOrigin.status, 200);
    assert.equal(sameOrigin.headers.get("access-control-allow-origin"), null);
    // Through a TLS tunnel (--allowed-host) the page is https: it may call, and gets https blob URLs.
    const x = (await postJson(s.flows["Echo"], {})).json.executionId;
    await s.waitForEnd(x);
    const urls = JSON.stringify({ query: `{ executionResult(id: "${x}") { stepResults { nodes { resultsUrl } } } }` });
    const tunneled = await post(`${s.url}/api`, urls, { ...headers, origin: s.url.replace("http:", "https:") });
    assert.equal(tunneled.status, 200);
    assert.match(tunneled.json.data.executionResult.stepResults.nodes[0].resultsUrl, new RegExp(`^${s.url.replace("http:", "https:")}/results/`));
    assert.match((await post(`${s.url}/api`, urls, headers)).json.data.executionResult.stepResults.nodes[0].resultsUrl, new RegExp(`^${s.url}/results/`), "plain http otherwise");
    assert.equal((await post(`${s.url}/api`, urls, { ...headers, origin: `https://evil.example` })).status, 403);
  });

  it("answers malformed, oversized and wrong-method requests with clear errors", async () => {
    const auth = { authorization: `Bearer ${s.token}` };
    const notJson = await post(`${s.url}/api`, "{nope", { ...auth, "content-type": "application/json" });
    assert.equal(notJson.status, 400);
    const noQuery = await post(`${s.url}/api`, JSON.stringify({ variables: {} }), { ...auth, "content-type": "application/json" });
    assert.equal(noQuery.status, 400);
    const badSyntax = await post(`${s.url}/api`, JSON.stringify({ query: "{ customers { " }), { ...auth, "content-type": "application/json", accept: "application/graphql-response+json" });
    assert.equal(badSyntax.status, 400);
    assert.match(badSyntax.json.errors[0].message, /Syntax Error/);
    // Validation errors: 400 for clients that accept application/graphql-response+json, 200 with
    // `errors` for application/json ones (the GraphQL over HTTP spec's legacy rule).
    const unknownField = await s.api("{ nothingHere }", {}, { accept: "application/graphql-response+json" });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.json.errors[0].message, /Cannot query field "nothingHere"/);
    const unknownFieldJson = await s.api("{ nothingHere }", {}, { accept: "application/json" });
    assert.equal(unknownFieldJson.status, 200);
    assert.equal(unknownFieldJson.json.data, undefined);
    const huge = await post(`${s.url}/api`, JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(7 * 1024 * 1024) } }), { ...auth, "content-type": "application/json" });
    assert.equal(huge.status, 413);
    const put = await post(`${s.url}/api`, query, { ...auth, "content-type": "application/json" }, "PUT");
    assert.equal(put.status, 405);
    assert.match(put.json.errors[0].message, /^Method Not Allowed: \/api answers GET for queries and POST/);
    const notJsonBody = await post(`${s.url}/api`, query, { ...auth, "content-type": "text/plain" });
    assert.equal(notJsonBody.status, 415);
    assert.match(notJsonBody.json.errors[0].message, /^Unsupported Media Type: POST a JSON body/);
    const html = await post(`${s.url}/api`, query, { ...auth, "content-type": "application/json", accept: "text/html" });
    assert.equal(html.status, 406);
    assert.match(html.json.errors[0].message, /^Not Acceptable: /);
    const mutationByGet = await post(`${s.url}/api?query=${encodeURIComponent('mutation { createCustomer(input: {name: "x"}) { errors { field } } }')}`, undefined, auth, "GET");
    assert.equal(mutationByGet.status, 405, "GET runs queries only");
    const deep = await s.api(`{ ${"executionResults { nodes { replays { nodes { ".repeat(3)} id ${"} } } } ".repeat(3)} }`);
    assert.equal(deep.status, 200, "nesting is bounded by the schema, and fine");
  });

  it("bounds what one document asks for: its tokens and its aliases (a field run many times over)", async () => {
    const many = await s.api(`{ ${"__typename ".repeat(20_000)}}`);
    assert.match(many.json.errors[0].message, /^Syntax Error: Document contains more tha[nt] 10000 tokens/);
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: executionResults(first: 1) { nodes { id } }`).join(" ")} }`;
    assert.equal((await s.api(aliases(30))).json.errors, undefined);
    const bomb = await s.api(aliases(31));
    assert.deepEqual(bomb.json.errors.map((e: { message: string }) => e.message), ["The document has more than 30 aliased fields; ask for fewer in one request"]);
    assert.equal(bomb.json.data, undefined, "nothing ran");
  });

  it("bounds the list items of one request, however its lists nest (one small query ran the server out of memory)", async () => {
    const ids = await Promise.all(Array.from({ length: 120 }, (_, i) => postJson(s.flows["Echo"], { i }).then((r) => r.json.executionId as string)));
    await Promise.all(ids.map((id) => s.waitForEnd(id)));
    const nested = (depth: number) => `{ ${"executionResults(first: 1000) { nodes { id instance { ".repeat(depth)}name${" } } }".repeat(depth)} }`;
    const two = await s.api(nested(2));
    assert.equal(two.json.errors, undefined, "120 × 120 items is within bounds");
    assert.ok(two.json.data.executionResults.nodes.length >= 120);
    const three = await s.api(nested(3)); // ≥ 120³: 1.7 million items
    assert.equal(three.status, 200);
    assert.match(three.json.errors[0].message, /^The request asks for more than 100000 list items in all/);
    assert.equal((await s.api("{ authenticatedUser { name } }")).json.data.authenticatedUser.name.length > 0, true, "and the server goes on");

    // A log search may read every stored line: one under each of 120 items is refused, as is a 21st.
    const searches = await s.api(`{ executionResults(first: 1000) { nodes { instance { logs(message_Icontains: "zz") { totalCount } } } } }`);
    assert.match(searches.json.errors[0].message, /^The request asks for more than 100000 list items in all .*a log search counts as 5000/);
    const twenty = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: logs(message_Icontains: "zz${i}") { totalCount }`).join(" ")} }`;
    assert.equal((await s.api(twenty(20))).json.errors, undefined);
    assert.match((await s.api(twenty(21))).json.errors[0].message, /more than 100000 list items/);
  });

  it("ignores variables the operation does not declare (VS Code sends stepId)", async () => {
    const { status, json } = await s.api("query { logSeverityLevels { id } }", { stepId: "x", after: "" });
    assert.equal(status, 200);
    assert.equal(json.data.logSeverityLevels.length, 7);
  });

  it("passes every mandatory audit of graphql-http's server audit suite", async () => {
    const fetchWithToken = (input: any, init: any = {}) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init.headers ?? {})), authorization: `Bearer ${s.token}` } });
    const audits = serverAudits({ url: `${s.url}/api`, fetchFn: fetchWithToken });
    const failed: string[] = [];
    let mandatory = 0;
    for (const audit of audits) {
      if (!audit.name.startsWith("MUST")) continue;
      mandatory++;
      const result = await audit.fn();
      if (result.status !== "ok") failed.push(`${audit.name}: ${result.reason}`);
    }
    assert.ok(mandatory > 10, `ran ${mandatory} mandatory audits`);
    assert.deepEqual(failed, []);
  });
});
