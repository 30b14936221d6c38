import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { CHROMIUM, installBrowserTools, playwrightChromium } from "../browser";
import { ROOT, TestServer, copyFixture, rawRequest, startServer } from "../helpers";

/**
 * The execution panel and the log explorer in a real browser: `/ui` of a real server on the UI
 * fixture, in Debian's headless Chromium driven by playwright-core. Screenshots are kept in
 * .test-results/ for a look at what the test saw.
 */
describe("the browser UI at /ui (headless Chromium)", function () {
  this.timeout(180_000);
  let server: TestServer;
  let browser: any;
  let page: any;
  const shots = path.join(ROOT, ".test-results", "ui");

  const trigger = async (flow: string, query = "", body: unknown = {}) => {
    const res = await fetch(server.flows[flow] + query, { method: "POST", headers: { "content-type": "application/json", "x-test": "<b>header</b>" }, body: JSON.stringify(body) });
    const { executionId } = (await res.json()) as { executionId: string };
    return server.waitForEnd(executionId);
  };
  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  before(async function () {
    installBrowserTools();
    fs.mkdirSync(shots, { recursive: true });
    server = await startServer(copyFixture("ui"));
    browser = await playwrightChromium().launch(CHROMIUM);
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    // Any script the page did not ship sets this; the XSS checks read it.
    page.on("pageerror", (err: Error) => process.stdout.write(`      page error: ${err.message}\n`));
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") await shot(`failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, "-")}`).catch(() => {});
    await page.close();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const open = async (hash = "") => {
    await page.goto(`${server.url}/ui#token=${encodeURIComponent(server.token)}`);
    await page.locator(".view").first().waitFor();
    if (hash) await page.evaluate((h: string) => (location.hash = h), hash);
  };

  it("serves one page under a strict CSP, its bundle's files only, to this server's Host names only", async () => {
    const res = await fetch(`${server.url}/ui`);
    assert.equal(res.status, 200);
    const csp = /content="([^"]+)"/.exec(await res.text())![1];
    assert.match(csp, /^default-src 'none'; script-src 'nonce-[A-Za-z0-9+/=]{24}';/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal((await fetch(`${server.url}/ui/webview.js`)).status, 200);
    for (const p of ["/ui/../package.json", "/ui/%2e%2e%2fpackage.json", "/ui/webview.js.missing", "/ui/..%5cpackage.json"]) {
      assert.equal((await rawRequest(server.url, { method: "GET", path: p })).status, 404, p);
    }
    assert.equal((await rawRequest(`${server.url}/ui`, { method: "GET", headers: { host: "evil.example:80" } })).status, 403);
    assert.equal((await fetch(`${server.url}/ui`, { method: "POST" })).status, 405);
  });

  it("/events streams execution changes to a bearer of the token, and refuses others", async () => {
    assert.equal((await fetch(`${server.url}/events`)).status, 401);
    assert.equal((await fetch(`${server.url}/events`, { headers: { authorization: "Bearer wrong-token" } })).status, 401);
    assert.equal((await fetch(`${server.url}/events`, { headers: { authorization: `Bearer ${server.token}`, origin: "http://evil.example" } })).status, 403);
    const controller = new AbortController();
    const res = await fetch(`${server.url}/events`, { headers: { authorization: `Bearer ${server.token}` }, signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const x = await trigger("Record");
    let text = "";
    while (!text.includes(`"id":"${x.id}"`) || !text.includes('"status":"SUCCESS"')) text += (await reader.read()).value;
    assert.match(text, /event: executions\ndata: \{"changes":\[/);
    controller.abort();

    // A bounded number of streams: past 64 open ones, a clear refusal.
    const streams = new AbortController();
    const open = await Promise.all(Array.from({ length: 64 }, () => fetch(`${server.url}/events`, { headers: { authorization: `Bearer ${server.token}` }, signal: streams.signal })));
    assert.ok(open.every((r) => r.status === 200));
    const refused = await fetch(`${server.url}/events`, { headers: { authorization: `Bearer ${server.token}` } });
    assert.equal(refused.status, 503);
    assert.match(((await refused.json()) as { error: string }).error, /Too many open \/events streams/);
    streams.abort();
  });

  it("says what is wrong with an unknown execution or an impossible time range, and keeps working", async () => {
    await open("#/execution/not-an-execution");
    await page.locator(".message", { hasText: /Could not load the execution|No execution/ }).waitFor();
    await page.evaluate(() => (location.hash = "#/logs?scope=all"));
    await page.locator("input[aria-label=From]").fill("2026-01-02T00:00:00");
    await page.locator("input[aria-label=To]").fill("2026-01-01T00:00:00");
    await page.locator(".logs-header [role=status]", { hasText: "Could not read the logs: timestamp_Gte is after timestamp_Lte" }).waitFor();
    await page.getByRole("button", { name: "All" }).click();
    await page.locator(".vrow:not([hidden])").first().waitFor();
  });

  it("takes the token from the link's fragment into sessionStorage, and lists executions live", async () => {
    await open();
    assert.equal(await page.evaluate(() => location.hash), "#/");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("refract.token")), server.token);
    const before = await page.locator("table.executions tbody tr").count();
    await trigger("Record", "?lines=1", { message: "live" });
    await page.waitForFunction((n: number) => document.querySelectorAll("table.executions tbody tr").length > n, before);
    assert.match(await page.locator("table.executions tbody tr").first().innerText(), /SUCCESS\s+Record/);
    // A reload keeps the session; a wrong token gets the sign-in form.
    await page.reload();
    await page.locator("table.executions tbody tr").first().waitFor();
    await page.evaluate(() => sessionStorage.setItem("refract.token", "not-the-token"));
    await page.reload();
    await page.getByText("The API token was refused").waitFor();
    // A cut link (a malformed escape) asks for the token too, rather than leaving a blank page.
    await page.evaluate(() => sessionStorage.clear());
    await page.goto("about:blank");
    await page.goto(`${server.url}/ui#token=%E0%A4%A`);
    await page.locator("input[aria-label='API token']").waitFor();
  });

  it("the execution panel: header, timeline, trigger payload, step results as a tree with search and copy path, and logs; hostile data is shown, not run", async () => {
    const hostile = { message: "<img src=x onerror=\"window.__pwned=1\">", html: "<script>window.__pwned=2</script>", nested: { list: [1, "two", { deep: "<svg onload=window.__pwned=3>" }] } };
    const x = await trigger("Record", "?lines=10", hostile);
    await open(`#/execution/${x.id}`);
    await page.locator("h1", { hasText: "Record" }).waitFor();
    const header = await page.locator(".execution-header").innerText();
    assert.match(header, /SUCCESS/);
    assert.match(header, /Refract Test Customer/);
    assert.match(header, /INTEGRATION_FLOW_TEST/);
    assert.match(header, /Version\s+1/);
    assert.equal(await page.locator(".tl-bar").count(), 3, "queue, onTrigger and onExecution bars");

    // The trigger payload: headers (as text) and the JSON body as a tree.
    await page.getByRole("tab", { name: "Trigger payload" }).click();
    await page.locator(".payload .kv th", { hasText: "x-test" }).waitFor();
    assert.equal(await page.locator(".payload .kv td", { hasText: "<b>header</b>" }).count(), 1);

    // A step result: search opens the path to each match; copy path copies it.
    await page.locator(".tl-bar.tl-step", { hasText: "onExecution" }).click();
    await page.locator(".step-detail .tree").waitFor();
    await page.locator(".step-detail input[type=search]").fill("svg");
    await page.locator(".tree .row.current", { hasText: "deep" }).waitFor();
    assert.equal(await page.locator(".search-count").innerText(), "1 of 1");
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.locator(".tree .row.current").hover();
    await page.locator(".tree .row.current button[aria-label='Copy path']").click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "onExecution.results.nested.list[2].deep");
    await page.getByRole("button", { name: "Raw" }).click();
    assert.match(await page.locator(".step-detail pre.raw").innerText(), /"html": "<script>window.__pwned=2<\/script>"/);

    // The logs beside it; a mark on the timeline selects its line.
    await page.locator(".log-lines li", { hasText: "onerror" }).first().waitFor();
    assert.equal(await page.locator(".log-lines li", { hasText: "<img src=x onerror=\"window.__pwned=1\">" }).count(), 10);
    await page.locator(".tl-mark").last().click();
    await page.locator(".log-lines li.selected").waitFor();
    await shot("execution-panel");

    // Nothing hostile ran or became an element.
    assert.equal(await page.evaluate(() => (window as any).__pwned), undefined);
    assert.equal(await page.locator("#app img, #app svg:not(.histogram-chart), #app script").count(), 0);
  });

  it("a search in a step result 2,000 levels deep stops at 500 levels and says so (revealing a match that deep killed the tab)", async () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 2000; i++) deep = { [`k${i}`]: deep };
    const x = await trigger("Record", "?lines=1", deep);
    await open(`#/execution/${x.id}`);
    await page.locator(".tl-bar.tl-step", { hasText: "onExecution" }).click();
    await page.locator(".step-detail input[type=search]").fill("leaf");
    await page.locator(".search-count", { hasText: "no match (not searched past 500 levels: see Raw)" }).waitFor();
    await page.locator(".step-detail input[type=search]").fill("k1600");
    await page.locator(".search-count", { hasText: "1 of 1" }).waitFor();
    assert.equal(await page.locator(".tree .row.current .key").first().textContent(), "k1600");
  });

  it("Raw shows the first 262,144 characters of a large value at once, and all of it on request", async () => {
    const x = await trigger("Record", "?kb=1024&lines=1");
    await open(`#/execution/${x.id}`);
    await page.locator(".tl-bar.tl-step", { hasText: "onExecution" }).click();
    await page.locator(".step-detail .tree").waitFor();
    await page.getByRole("button", { name: "Raw" }).click();
    const raw = page.locator(".step-detail pre.raw");
    assert.equal((await raw.textContent()).length, 262_144);
    const note = await page.locator(".step-detail", { hasText: /The first 262,144 of [\d,]+ characters \(Copy copies all\)\./ }).innerText();
    const total = Number(/of ([\d,]+) characters/.exec(note)![1].replace(/,/g, ""));
    assert.ok(total > 1_000_000, `${total}`);
    await page.getByRole("button", { name: "Show all" }).click();
    assert.equal((await raw.textContent()).length, total);
    assert.match((await raw.textContent()).slice(-40), /\]\n\}$/);
  });

  it("images as images; a failed execution's step stands out and its invoked execution opens from the timeline", async () => {
    const image = await trigger("Image");
    await open(`#/execution/${image.id}`);
    await page.getByRole("tab", { name: "On Execution" }).click();
    const img = page.locator(".content-image img");
    await img.waitFor();
    assert.equal(await img.evaluate((e: any) => e.complete && e.naturalWidth), 1);

    const caller = await trigger("Caller", "?fail=1");
    await page.evaluate((h: string) => (location.hash = h), `#/execution/${caller.id}`);
    await page.locator(".tl-failed").waitFor();
    assert.match(await page.locator(".execution-error").innerText(), /Caller failed on request/);
    assert.equal(await page.locator(".tabs .failed").count(), 1);
    await page.locator(".lineage", { hasText: "Invoked: Record" }).waitFor();
    await page.locator(".tl-linked").click();
    await page.locator(".lineage", { hasText: "Invoked by: Caller" }).waitFor();
    assert.match(await page.locator(".execution-header").innerText(), /CROSS_FLOW/);
  });

  it("a running execution's panel follows it live, and Cancel from the panel stops one", async () => {
    const start = async (query: string) => {
      const res = await fetch(server.flows.Record + query, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: "live" }) });
      return ((await res.json()) as { executionId: string }).executionId;
    };
    const running = await start("?lines=2&sleep=1500");
    await open(`#/execution/${running}`);
    await page.locator("h1 .status-pending").waitFor();
    await page.locator("h1 .status-success").waitFor({ timeout: 20_000 });
    await page.locator(".log-lines li", { hasText: "live after the wait" }).waitFor();
    assert.equal(await page.locator(".tl-bar.tl-step", { hasText: "onExecution" }).count(), 1);

    // Lines that arrive while the first pages load are listed once each (live updates page after them).
    const chatty = await start("?lines=1500&sleep=1000");
    await page.evaluate((h: string) => (location.hash = h), `#/execution/${chatty}`);
    await page.locator("h1 .status-pending").waitFor();
    assert.equal(await page.getByRole("button", { name: "Replay" }).count(), 0, "a running execution cannot be replayed yet");
    await page.locator("h1 .status-success").waitFor({ timeout: 20_000 });
    await page.locator(".log-lines li", { hasText: "live after the wait" }).waitFor();
    const ids: string[] = await page.evaluate(() => [...document.querySelectorAll(".log-lines li")].map((li) => li.id));
    const stored = (await server.runtime.logs.ofExecution(await server.waitForEnd(chatty))).length;
    assert.deepEqual([ids.length, new Set(ids).size], [stored, stored]);

    const long = await start("?lines=1&sleep=8000");
    await page.evaluate((h: string) => (location.hash = h), `#/execution/${long}`);
    await page.locator("h1 .status-pending").waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.locator("h1 .status-canceled").waitFor({ timeout: 10_000 });
    assert.equal(await page.getByRole("button", { name: "Cancel" }).count(), 0, "nothing left to cancel");
  });

  it("after /events drops, the page loads what it shows again: what changed meanwhile is not missed", async () => {
    const res = await fetch(server.flows.Record + "?lines=1&sleep=1500", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: "while away" }) });
    const { executionId } = (await res.json()) as { executionId: string };
    // The first stream ends at once; the next one opens only after the execution has ended.
    let streams = 0;
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route("**/events", async (route: any) => {
      streams++;
      if (streams === 1) return route.fulfill({ status: 200, contentType: "text/event-stream", body: "retry: 2000\n\n" });
      if (streams === 2) await released;
      return route.continue();
    });
    await open(`#/execution/${executionId}`);
    await page.locator("h1 .status-pending").waitFor();
    await server.waitForEnd(executionId);
    release();
    await page.locator("h1 .status-success").waitFor({ timeout: 10_000 });
  });

  it("Replay from the panel runs the execution again and opens the replay, linked to it", async () => {
    const x = await trigger("Record", "?lines=1", { message: "replay me" });
    await open(`#/execution/${x.id}`);
    await page.getByRole("button", { name: "Replay" }).click();
    await page.locator(".lineage", { hasText: "Replay of: Record" }).waitFor();
    const replayId = await page.evaluate(() => decodeURIComponent(location.hash.slice("#/execution/".length)));
    assert.notEqual(replayId, x.id);
    const ended = await server.waitForEnd(replayId);
    assert.equal(ended.status, "SUCCESS");
    await page.locator("h1 .status-success").waitFor();
  });

  it("the log explorer: severities, text, a histogram to brush, and filters that survive a reload", async () => {
    await trigger("Record", "?lines=25", { message: "explorer needle" });
    await open("#/logs?scope=all");
    await page.locator(".vrow:not([hidden])").first().waitFor();
    await page.locator(".histogram-chart").waitFor();
    await page.getByPlaceholder("Search messages").fill("explorer needle");
    await page.waitForFunction(() => document.querySelector(".logs-header [role=status]")?.textContent === "25 lines");
    await page.getByRole("button", { name: "WARN" }).click();
    await page.waitForFunction(() => document.querySelector(".logs-header [role=status]")?.textContent === "5 lines");
    const severities = await page.locator(".vrow:not([hidden]) .c-sev").allInnerTexts();
    assert.deepEqual([...new Set(severities)], ["WARN"]);
    await page.getByRole("button", { name: "ERROR" }).click();
    await page.waitForFunction(() => document.querySelector(".logs-header [role=status]")?.textContent === "10 lines");
    await shot("log-explorer");
    // Live tail: new matching lines come in without a reload.
    await trigger("Record", "?lines=25", { message: "explorer needle" });
    await page.waitForFunction(() => document.querySelector(".logs-header [role=status]")?.textContent === "20 lines", null, { timeout: 10_000 });

    // Brushing across the histogram's bars narrows the range to their buckets: a custom range, the same lines.
    await page.locator(".histogram .bar").first().waitFor();
    const axis = await page.locator(".histogram-axis").innerText();
    const bars = await page.locator(".histogram .bar").evaluateAll((rects: any[]) => rects.map((r) => r.getBoundingClientRect()));
    const box = await page.locator(".histogram-chart").boundingBox();
    const left = Math.min(...bars.map((b: any) => b.left));
    const right = Math.max(...bars.map((b: any) => b.right));
    await page.mouse.move(left + 1, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(right - 1, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction((before: string) => document.querySelector(".histogram-axis")?.textContent !== before.replace("\n", ""), axis);
    assert.notEqual(await page.locator("input[aria-label=From]").inputValue(), "");
    assert.equal(await page.getByRole("button", { name: "All" }).getAttribute("aria-pressed"), "false");
    await page.waitForFunction(() => document.querySelector(".logs-header [role=status]")?.textContent === "20 lines");

    // Reopened, the explorer has the same filters.
    await page.reload();
    await page.locator(".vrow:not([hidden])").first().waitFor();
    assert.equal(await page.getByPlaceholder("Search messages").inputValue(), "explorer needle");
    assert.equal(await page.getByRole("button", { name: "WARN" }).getAttribute("aria-pressed"), "true");
    assert.notEqual(await page.locator("input[aria-label=From]").inputValue(), "");
    await page.waitForFunction(() => document.querySelector(".logs-header [role=status]")?.textContent === "20 lines");

    // A row opens its execution.
    await page.locator(".vrow[data-index=\"0\"]").click();
    await page.locator("h1", { hasText: "Record" }).waitFor();
  });

  it("scrolls 100,000 matching lines with a few dozen rows built, reading the pages it shows", async () => {
    await Promise.all([1, 2, 3, 4].map(() => trigger("Record", "?lines=25000", { message: "bulk" })));
    await open("#/logs?scope=all");
    await page.evaluate(() => sessionStorage.removeItem("refract.state.logs"));
    await page.reload();
    await page.getByPlaceholder("Search messages").fill("bulk");
    await page.waitForFunction(() => document.querySelector(".logs-header [role=status]")?.textContent === "100,000 lines", null, { timeout: 30_000 });
    const list = page.locator(".vlist");
    // Rendered where it scrolled to (the rows on screen are built), and loaded.
    const settled = () =>
      page.waitForFunction(() => {
        const list = document.querySelector(".vlist");
        const rows = [...document.querySelectorAll(".vrow:not([hidden])")].map((r: any) => Number(r.dataset.index));
        const top = Math.floor(list.scrollTop / 22);
        const bottom = Math.min(99_999, Math.floor((list.scrollTop + list.clientHeight - 1) / 22));
        return rows.includes(top) && rows.includes(bottom) && document.querySelectorAll(".vrow.loading:not([hidden])").length === 0;
      });
    for (const fraction of [0.25, 0.5, 0.999999]) {
      await list.evaluate((e: any, f: number) => (e.scrollTop = e.scrollHeight * f), fraction);
      await settled();
      assert.ok((await page.locator(".vrow").count()) < 120, "only the rows on screen (and a margin) are built");
    }
    // Up from a jump, pages are read before the one already there (by cursor): still in order, none twice.
    await list.evaluate((e: any) => (e.scrollTop = e.scrollHeight * 0.5));
    await settled();
    for (let i = 0; i < 12; i++) await list.evaluate((e: any) => (e.scrollTop -= 1500));
    await settled();
    const shown = await page.evaluate(() =>
      [...document.querySelectorAll(".vrow:not([hidden])")].map((r: any) => ({ index: Number(r.dataset.index), id: r.dataset.id, time: r.firstChild.textContent })).sort((a: any, b: any) => a.index - b.index),
    );
    assert.equal(new Set(shown.map((r: { id: string }) => r.id)).size, shown.length, "no line shown twice");
    for (let i = 1; i < shown.length; i++) assert.ok(shown[i].time <= shown[i - 1].time, `newest first at row ${shown[i].index}`);
    await list.evaluate((e: any) => (e.scrollTop = e.scrollHeight));
    await settled();
    // Rows are recycled out of order: the last line is the row with the highest index.
    const rows = await page.evaluate(() =>
      [...document.querySelectorAll(".vrow:not([hidden])")].map((r: any) => `${r.dataset.index} ${r.lastChild.textContent}`).sort((a: string, b: string) => parseInt(b) - parseInt(a)),
    );
    assert.match(rows[0], /^99999 bulk 0$/, `the oldest matching line is last; the rows shown: ${rows.slice(0, 10).join(", ")}`);
    // The keyboard moves through the list as well.
    await list.focus();
    await page.keyboard.press("Home");
    await page.waitForFunction(() => (document.querySelector(".vlist")).scrollTop === 0);
  });

  it("a light and a dark theme, and a readable page at 200 % zoom", async () => {
    await open();
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const first = await background();
    await page.getByRole("button", { name: "Switch between light and dark theme" }).click();
    assert.notEqual(await background(), first);
    const zoomed = await browser.newPage({ viewport: { width: 650, height: 450 }, deviceScaleFactor: 2 });
    try {
      await zoomed.goto(`${server.url}/ui#token=${encodeURIComponent(server.token)}`);
      await zoomed.locator("table.executions tbody tr").first().waitFor();
      await zoomed.screenshot({ path: path.join(shots, "zoom-200.png") });
      // Nothing wider than the window: no horizontal scrolling needed to read a row.
      assert.ok(await zoomed.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    } finally {
      await zoomed.close();
    }
  });

  it("a failed build is shown under the bar on every view, to a page opened meanwhile too, until a good build replaces it", async () => {
    await open();
    const problem = page.locator(".build-problem");
    assert.equal(await problem.isVisible(), false);
    const index = path.join(server.workspace, "src", "index.ts");
    const source = fs.readFileSync(index, "utf8");
    fs.writeFileSync(index, source + "\nconst broken: number = ;\n");
    try {
      await problem.waitFor({ state: "visible", timeout: 30_000 });
      assert.match(await problem.innerText(), /^The integration's last build failed; version \d+ still serves:\n[\s\S]*index\.ts:\d+:\d+/);
      await page.evaluate(() => (location.hash = "#/logs?scope=all"));
      await page.locator(".view-logs").waitFor();
      assert.ok(await problem.isVisible(), "on the log explorer too");
      await page.reload();
      await problem.waitFor({ state: "visible" });
      await shot("build-failed");
    } finally {
      fs.writeFileSync(index, source);
    }
    await problem.waitFor({ state: "hidden", timeout: 30_000 });
  });

  it("the home list keeps rows loaded past the 1,000 a live refresh reads", async () => {
    for (let i = 0; i < 21; i++) await Promise.all(Array.from({ length: 50 }, () => fetch(server.flows.Record, { method: "POST", body: "{}" })));
    await open();
    const rows = page.locator("table.executions tbody tr");
    while ((await rows.count()) <= 1000) {
      const count = await rows.count();
      await page.getByRole("button", { name: "Load more" }).click();
      await page.waitForFunction((n: number) => document.querySelectorAll("table.executions tbody tr").length > n, count);
    }
    const shown = await rows.count();
    const oldest = await rows.last().locator("a").getAttribute("href");
    const x = await trigger("Record", "", { message: "after a thousand" });
    await page.waitForFunction((n: number) => document.querySelectorAll("table.executions tbody tr").length === n + 1, shown);
    assert.equal(await rows.last().locator("a").getAttribute("href"), oldest, "the oldest row loaded is still there");
    assert.equal(await rows.first().locator("a").getAttribute("href"), `#/execution/${encodeURIComponent(x.id)}`);
  });
});

// What the callbacks given to page.evaluate use; they run in the browser, not here.
declare const document: any, location: any, sessionStorage: any, navigator: any, window: any, getComputedStyle: any;
