import * as assert from "node:assert/strict";
import * as vm from "node:vm";
import * as ts from "typescript";
import { nativeAsync } from "../../server/src/runtime/nativeAsync";

/** What TypeScript itself emits for a target before ES2017: async functions run as generators by `__awaiter`. */
const downlevel = (source: string) => ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2015, module: ts.ModuleKind.CommonJS } }).outputText;

/** Runs CommonJS code and calls its exported `main`, collecting what it records. */
async function run(code: string): Promise<unknown[]> {
  const events: unknown[] = [];
  const module = { exports: {} as { main: (record: (e: unknown) => void) => Promise<unknown> } };
  vm.runInThisContext(`(function (exports, module) {${code}\n})`)(module.exports, module);
  try {
    events.push(["resolved", await module.exports.main((e) => events.push(e))]);
  } catch (err) {
    events.push(["rejected", err instanceof Error ? err.message : err]);
  }
  return events;
}

/** The source, downleveled, behaves the same before and after the rewrite, which leaves no `__awaiter` call. */
async function sameBehaviour(source: string, expected: unknown[]): Promise<string> {
  const generators = downlevel(source);
  assert.match(generators, /__awaiter\(/, "TypeScript emitted generators");
  const rewritten = nativeAsync(generators);
  assert.equal(rewritten.kept, 0);
  assert.doesNotMatch(rewritten.code, /__awaiter\(/, "no call is left");
  assert.equal(rewritten.code.split("\n").length, generators.split("\n").length, "the same lines");
  assert.deepEqual(await run(generators), expected, "TypeScript's output");
  assert.deepEqual(await run(rewritten.code), expected, "rewritten");
  return rewritten.code;
}

describe("nativeAsync: TypeScript's generator-run async functions made native again", () => {
  it("keeps what awaits return, throw and resolve, in the order they happen", async () => {
    const code = await sameBehaviour(
      `
      const thenable = { then: (resolve: (v: number) => void) => resolve(7) };
      const later = (v: unknown) => new Promise((r) => setTimeout(() => r(v), 1));
      async function fails(): Promise<never> { await null; throw new Error("inner"); }
      export async function main(record: (e: unknown) => void) {
        record("sync part runs at once");
        const a = (await 1) + (await later(2));
        const b = await thenable;
        const c = (await null) || "fallback";
        const d = a > 2 ? await later("yes") : await later("no");
        let e;
        try { await fails(); } catch (err) { e = (err as Error).message; } finally { record(await "finally"); }
        const nested = await (async () => [await later("x"), await (async () => "y")()])();
        record([a, b, c, d, e, nested]);
        return await later("done");
      }
      `,
      ["sync part runs at once", "finally", [3, 7, "fallback", "yes", "inner", ["x", "y"]], ["resolved", "done"]],
    );
    assert.match(code, /\(async \(\) =>/);
    assert.doesNotMatch(code, /yield/);
  });

  it("keeps `this` of methods, parameters with defaults and destructuring, and rejections of their own", async () => {
    await sameBehaviour(
      `
      class Counter {
        n = 40;
        async add(by: number) { return this.n + (await by); }
      }
      const withDefaults = async ({ a, b }: { a: number; b?: number }, c = a * 2, ...rest: number[]) => [a, b ?? "none", await c, rest];
      async function throwsAtOnce(): Promise<void> { throw new Error("at once"); }
      export async function main(record: (e: unknown) => void) {
        record(await new Counter().add(2));
        record(await withDefaults({ a: 1 }));
        record(await withDefaults({ a: 1, b: 2 }, 5, 6, 7));
        const p = throwsAtOnce();
        record(p instanceof Promise);
        await p;
      }
      `,
      [42, [1, "none", 2, []], [1, 2, 5, [6, 7]], true, ["rejected", "at once"]],
    );
  });

  it("keeps `arguments` of the async function (TypeScript reads them before the generator)", async () => {
    await sameBehaviour(
      `
      async function count(..._: unknown[]) { await null; return arguments.length; }
      export async function main() { return await count(1, 2, 3); }
      `,
      [["resolved", 3]],
    );
  });

  it("keeps every column up to the end of each body, so the source map still holds", () => {
    const generators = downlevel(`export const f = async (x: number) => {\n  const marker = await x;\n  return marker;\n};\n`);
    const { code } = nativeAsync(generators);
    const at = (text: string) => {
      const line = text.split("\n").findIndex((l) => l.includes("marker ="));
      return [line, text.split("\n")[line].indexOf("marker =")];
    };
    assert.deepEqual(at(code), at(generators));
  });

  it("does not touch the name in a string or a comment, or code that only looks like a call", () => {
    const code = [
      `const s = "__awaiter(void 0, void 0, void 0, function* () { yield 1; })";`,
      "// __awaiter(void 0, void 0, void 0, function* () { yield 1; })",
      "__awaiter(void 0, void 0, Custom, function* () { yield 1; });",
      "__awaiter(void 0, void 0, void 0, function* () { yield; });",
      "__awaiter(void 0, void 0, void 0, function* () { yield a + b; });",
      "__awaiter(void 0, void 0, void 0, function* () { yield* other(); });",
      "__awaiter(void 0, void 0, void 0, function* () { return this; });",
      "__awaiter(void 0, void 0, void 0, function* named() { yield 1; });",
      "__awaiter(this, arguments, void 0, function* () { yield 1; });",
      "__awaiter(void 0, void 0, void 0, function* () { yield 1; ",
    ].join("\n");
    assert.deepEqual(nativeAsync(code), { code, rewritten: 0, kept: 4 });
  });
});
