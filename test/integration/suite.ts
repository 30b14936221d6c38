// The extension's integration tests, run inside a real VS Code's extension host (code-server; see
// vscode.test.ts). VS Code calls `run()`; each check prints `ok - <name>` or `not ok - <name>: <why>`
// on the console, which the runner reads, and a failure makes `run()` reject.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { RefractApi } from "../../client/src/extension";

const checks: Array<[string, () => Promise<void>]> = [];
const check = (name: string, fn: () => Promise<void>) => checks.push([name, fn]);

let api: RefractApi;
const timings: Record<string, number> = {};

check("activates without waiting for the server", async () => {
  const extension = vscode.extensions.getExtension<RefractApi>("refract.refract");
  assert.ok(extension, "the extension is installed");
  const started = Date.now();
  api = await extension.activate();
  timings.activationMs = api.activationMs;
  assert.ok(api.activationMs < 1000, `activate() took ${api.activationMs} ms`);
  const info = await api.runtime();
  timings.runtimeReadyMs = Date.now() - started;
  assert.match(info.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/);
});

check("the Executions view shows a triggered execution when it ends, without polling", async () => {
  const info = await api.runtime();
  const flows = await graphql(info, "{ integrations { nodes { flows { nodes { name testUrl } } } } }");
  const echo = flows.integrations.nodes[0].flows.nodes.find((f: { name: string }) => f.name === "Echo");
  const shown = new Promise<void>((resolve) => api.executions.onDidChangeTreeData(() => resolve()));
  const answer = await fetch(echo.testUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ from: "vscode" }) });
  const { executionId } = (await answer.json()) as { executionId: string };
  await shown;
  for (let i = 0; i < 100; i++) {
    const items = await api.executions.getChildren();
    const item = items.find((it) => it.kind === "execution" && it.execution.id === executionId);
    if (item && item.kind === "execution" && item.execution.status === "SUCCESS") {
      const tree = api.executions.getTreeItem(item);
      assert.equal(tree.label, "Echo");
      assert.match(String(tree.description), /ms · .* ago · INTEGRATION_FLOW_TEST/);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("the execution did not appear as SUCCESS in the view");
});

check("Copy API Token puts the runtime's token on the clipboard", async () => {
  await vscode.commands.executeCommand("refract.token.copy");
  assert.equal(await vscode.env.clipboard.readText(), (await api.runtime()).token);
});

async function graphql(info: { apiUrl: string; token: string }, query: string): Promise<any> {
  const res = await fetch(info.apiUrl, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${info.token}` }, body: JSON.stringify({ query }) });
  return ((await res.json()) as { data: unknown }).data;
}

export async function run(): Promise<void> {
  const failed: string[] = [];
  for (const [name, fn] of checks) {
    try {
      await fn();
      console.log(`ok - ${name}`);
    } catch (err) {
      failed.push(name);
      console.log(`not ok - ${name}: ${(err as Error).message}`);
    }
  }
  console.log(`timings ${JSON.stringify(timings)}`);
  if (failed.length) throw new Error(`${failed.length} of ${checks.length} checks failed`);
}
