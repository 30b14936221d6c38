import * as assert from "node:assert/strict";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { CHROMIUM, HOST, installBrowserTools, playwrightChromium, withoutCodeServerServiceWorker } from "../browser";
import { ROOT, copyFixture, tmpDir } from "../helpers";

/**
 * The extension in a real VS Code: code-server (VS Code 1.100.3's server and workbench) with the
 * workbench in Debian's headless Chromium, driven by playwright-core; all installed by
 * test/vscode/install.sh. The extension's own checks (suite.ts, bundled to
 * dist/test/integration.js) run in code-server's Node extension host, started through the
 * workbench's `payload` URL parameter (`extensionDevelopmentPath`, `extensionTestsPath`), and
 * report back through `window.codeAutomationExit`, the mechanism VS Code's own browser
 * integration tests use (internal to VS Code, hence the pinned code-server).
 */
const CODE_SERVER = path.join(HOST, "node_modules", ".bin", "code-server");

describe("the extension in a real VS Code (code-server + Chromium)", function () {
  this.timeout(15 * 60_000);
  let server: ChildProcess | null = null;
  let base: string;
  let run: string;

  before(async function () {
    installBrowserTools();
    run = tmpDir("vscode");
    fs.mkdirSync(path.join(run, "user", "User"), { recursive: true });
    fs.writeFileSync(
      path.join(run, "user", "User", "settings.json"),
      JSON.stringify({ "workbench.startupEditor": "none", "extensions.autoCheckUpdates": false, "extensions.autoUpdate": false, "telemetry.telemetryLevel": "off", "update.mode": "none", "security.workspace.trust.enabled": false }),
    );
    // The UI smoke test below runs the extension as users get it: packaged, then installed.
    const vsix = path.join(run, "refract.vsix");
    execFileSync(path.join(ROOT, "node_modules", ".bin", "vsce"), ["package", "--out", vsix], { cwd: ROOT, stdio: "ignore", timeout: 120_000 });
    execFileSync(CODE_SERVER, ["--user-data-dir", path.join(run, "user"), "--extensions-dir", path.join(run, "extensions"), "--install-extension", vsix], { env: { ...process.env, XDG_CONFIG_HOME: path.join(run, "xdg") }, stdio: "ignore", timeout: 120_000 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // Its own process group, so that stopping it stops its extension hosts (and their language servers) too.
    server = spawn(CODE_SERVER, ["--bind-addr", `127.0.0.1:${port}`, "--auth", "none", "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--user-data-dir", path.join(run, "user"), "--extensions-dir", path.join(run, "extensions")], {
      env: { ...process.env, XDG_CONFIG_HOME: path.join(run, "xdg") },
      stdio: ["ignore", fs.openSync(path.join(run, "code-server.log"), "w"), fs.openSync(path.join(run, "code-server.log"), "a")],
      detached: true,
    });
    for (let i = 0; !(await fetch(`${base}/healthz`).catch(() => null))?.ok; i++) {
      if (i > 300) throw new Error(`code-server did not answer within 60 s; see ${path.join(run, "code-server.log")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(() => {
    if (server?.pid) {
      try {
        process.kill(-server.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  });

  it("activates, starts the runtime, and shows executions as they happen", async () => {
    const workspace = copyFixture("basic");
    const { code, lines } = await extensionTests(base, workspace, path.join(run, "chromium"));
    for (const line of lines) process.stdout.write(`      ${line}\n`);
    const failed = lines.filter((l) => l.startsWith("not ok"));
    // VS Code's logs (the extension host's, the Refract output channel's) are kept for a look at what went wrong.
    const logs = path.join(run, "user", "logs");
    if ((failed.length || code !== 0) && fs.existsSync(logs)) fs.cpSync(logs, path.join(ROOT, ".test-results", "vscode-logs"), { recursive: true });
    assert.deepEqual(failed, []);
    assert.ok(lines.filter((l) => l.startsWith("ok - ")).length >= 3, "the checks ran");
    assert.equal(code, 0);
  });

  it("UI smoke, with the packaged .vsix installed: the Refract container, Trigger Flow… from the palette, the execution in the tree, its panel with step result and logs, a replay from the panel; a screenshot", async () => {
    const workspace = copyFixture("basic");
    const payload = JSON.stringify([["skipWelcome", "true"]]);
    const context = await playwrightChromium().launchPersistentContext(path.join(run, "chromium-ui"), { ...CHROMIUM, viewport: { width: 1400, height: 850 } });
    await withoutCodeServerServiceWorker(context);
    const page = context.pages()[0] ?? (await context.newPage());
    // Kept after the run (the scratch folder is not), for a look at what the test saw.
    const shot = path.join(ROOT, ".test-results", "vscode-ui.png");
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    try {
      await page.goto(`${base}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
      await page.locator(".monaco-workbench .statusbar").waitFor({ timeout: 60_000 });
      await page.getByRole("tab", { name: /Refract/ }).click();
      const pane = (title: RegExp) => page.locator(".pane", { has: page.locator(".pane-header", { hasText: title }) }).first();
      await pane(/Instances/).locator(".monaco-list-row", { hasText: "Fixture Basic" }).first().waitFor({ timeout: 60_000 });

      await page.keyboard.press("F1");
      const input = page.locator(".quick-input-widget input");
      await input.fill(">Refract: Trigger Flow");
      await page.locator(".quick-input-list .monaco-list-row", { hasText: "Refract: Trigger Flow" }).first().waitFor({ timeout: 10_000 });
      await page.keyboard.press("Enter");
      await page.locator(".quick-input-list .monaco-list-row", { hasText: "Sync Echo" }).first().waitFor({ timeout: 10_000 });
      await input.fill("Echo");
      await page.keyboard.press("Enter");
      await page.locator(".quick-input-list .monaco-list-row", { hasText: "Empty payload" }).first().waitFor({ timeout: 10_000 });
      await page.keyboard.press("Enter");

      // The execution opens in its panel (a webview: the workbench's iframe, and the page's own frame inside it).
      const execution = pane(/Executions/).locator(".monaco-list-row", { hasText: /Echo.*ms ·/ }).first();
      await execution.waitFor({ timeout: 30_000 });
      await execution.click();
      const panel = page.frameLocator("iframe.webview.ready").last().frameLocator("#active-frame");
      await panel.locator("h1", { hasText: "Echo" }).waitFor({ timeout: 30_000 });
      await panel.getByRole("tab", { name: "On Execution" }).click();
      await panel.locator(".step-detail .tree .key", { hasText: "body" }).first().waitFor({ timeout: 20_000 });
      await panel.locator(".log-lines li", { hasText: "info line" }).waitFor({ timeout: 20_000 });
      await page.screenshot({ path: shot });
      // The step result as a document, as before the panel existed.
      await panel.getByRole("button", { name: "Open as document" }).click();
      await page.locator(".tabs-container .tab", { hasText: "onExecution.json" }).waitFor({ timeout: 20_000 });
      await page.locator(".monaco-editor .view-lines", { hasText: '"body"' }).first().waitFor({ timeout: 20_000 });
      // Replay from the panel: the replay opens in a panel of its own, linked back.
      await page.locator(".tabs-container .tab", { hasText: "Echo · SUCCESS" }).first().click();
      await panel.getByRole("button", { name: "Replay" }).click();
      await page.frameLocator("iframe.webview.ready").last().frameLocator("#active-frame").locator(".lineage", { hasText: "Replay of: Echo" }).waitFor({ timeout: 30_000 });

      // A folder without an integration: the Instances view explains what Refract needs.
      await page.goto(`${base}/?folder=${encodeURIComponent(copyFixture("no-integration"))}&payload=${encodeURIComponent(payload)}`);
      await page.locator(".monaco-workbench .statusbar").waitFor({ timeout: 60_000 });
      await page.getByRole("tab", { name: /Refract/ }).click();
      await pane(/Instances/).getByText("No Prismatic code-native integration was found in this folder.").waitFor({ timeout: 60_000 });
      await page.locator(".statusbar-item", { hasText: "Refract: no integration" }).waitFor({ timeout: 10_000 });
    } catch (err) {
      await page.screenshot({ path: shot }).catch(() => {});
      throw err;
    } finally {
      process.stdout.write(`      screenshot: ${shot}\n`);
      await context.close();
    }
    assert.ok(fs.statSync(shot).size > 10_000, "the screenshot has content");
  });
});

/** Opens the workbench with the extension under development and its tests; resolves with their exit code and output. */
async function extensionTests(base: string, workspace: string, profile: string): Promise<{ code: unknown; lines: string[] }> {
  const remote = (p: string) => `vscode-remote://${new URL(base).host}${p}`;
  const payload = JSON.stringify([
    ["extensionDevelopmentPath", remote(ROOT)],
    ["extensionTestsPath", remote(path.join(ROOT, "dist", "test", "integration.js"))],
    ["skipWelcome", "true"],
  ]);
  const context = await playwrightChromium().launchPersistentContext(profile, CHROMIUM);
  await withoutCodeServerServiceWorker(context);
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const lines: string[] = [];
    // The workbench's (and its webviews') last console messages, shown when a check fails.
    const browserLog: string[] = [];
    page.on("console", (m: { text(): string }) => {
      // The workbench forwards the extension host's console with a styling prefix (`%c INFO color: …`).
      const text = m.text();
      const check = /(?:^| )((?:not )?ok - .*|note - .*|timings \{.*)$/s.exec(text);
      if (check) lines.push(check[1]);
      else if (process.env.REFRACT_VSCODE_LOG) process.stdout.write(`[browser] ${text.slice(0, 300)}\n`);
      else if (browserLog.push(text.slice(0, 300)) > 80) browserLog.shift();
    });
    const done = new Promise<unknown>((resolve) => void page.exposeFunction("codeAutomationExit", (code: unknown, logs?: Array<{ relativePath: string; contents: string }>) => {
      if (process.env.REFRACT_VSCODE_LOG) for (const l of logs ?? []) process.stdout.write(`[exthost log ${l.relativePath}]\n${l.contents.slice(-6000)}\n`);
      resolve(code);
    }));
    await page.exposeFunction("codeAutomationLog", () => {});
    await page.goto(`${base}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
    const code = await Promise.race([done, new Promise((resolve) => setTimeout(() => resolve("timed out after 3 min"), 180_000))]);
    if (code !== 0 || lines.some((l) => l.startsWith("not ok"))) for (const l of browserLog) process.stdout.write(`      [browser] ${l}\n`);
    return { code, lines };
  } finally {
    await context.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}
