// One build per target: the server (the `refract` bin, which is also the language server), its
// worker, the extension's client, and the UI (webview/, for VS Code's webviews and the browser at /ui). `--watch` rebuilds on change, `--production` minifies.
import { chmodSync } from "node:fs";
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const production = process.argv.includes("--production");

// The bin runs Node with one V8 helper thread instead of four. The helpers (concurrent marking,
// parallel scavenges, background compiles of all three isolates) run at normal priority, and on
// two cores four of them took the CPU from the thread that answers webhooks: at 1,000 webhooks/s
// the answer's p99 went from 5-8 ms to 3-4 ms with one, with the same throughput. And the main
// thread's old generation grows to 64 MB before V8 first collects it whole: with V8's own limit
// for its small heap (the index grows by each execution) a mark-compact came every ~3 s at 1,000
// webhooks/s, pausing the answers 2-6 ms each time (the workers' own limit: runtime/workerHeap.ts).
// Its young generation stays at 4 MB a half instead of growing to V8's 16: every execution leaves
// short-lived ArrayBuffers (its request, its step results) whose memory goes back only when a
// scavenge finds them dead, and with 16 MB halves the saturation run's peak RSS was 70-130 MB
// higher (344-404 MB against 257-319). The cost is more scavenges: 12 µs of the main thread per
// execution against 7. And each isolate's old generation may grow by half its live size before
// the next mark-compact, not V8's own factor (up to 4x, chosen from the GC's speed): the index
// gains ~360 bytes an execution, and under load the main heap grew to 1.5-2x what was live. In
// the saturation run peak RSS went from 301-337 MB to 231-247 MB, at the same CPU per execution.
const cliShebang = "#!/usr/bin/env -S node --v8-pool-size=1 --initial-old-space-size=64 --max-semi-space-size=4 --heap-growing-percent=50";

const targets = [
  // The bin (dist/cli.js) runs the server bundle through V8's code cache (server/src/bin.ts).
  { entryPoints: ["server/src/bin.ts"], outfile: "dist/cli.js", banner: { js: cliShebang } },
  { entryPoints: ["server/src/main.ts"], outfile: "dist/server.js", external: ["esbuild", "typescript"] },
  { entryPoints: ["server/src/runtime/worker.ts"], outfile: "dist/worker.js" },
  { entryPoints: ["server/src/store/scanWorker.ts"], outfile: "dist/log-scan.js" },
  // ES modules first: graphql-request needs only graphql-js's parser, and graphql-js's CommonJS
  // build cannot be tree-shaken (724 KB of a 1.8 MB bundle; 106 KB this way), which the extension
  // host compiles at every activation.
  { entryPoints: ["client/src/extension.ts"], outfile: "dist/extension.js", external: ["vscode"], mainFields: ["module", "main"] },
  // The extension's integration tests, which VS Code loads into its extension host (test/integration/).
  { entryPoints: ["test/integration/suite.ts"], outfile: "dist/test/integration.js", external: ["vscode"] },
];

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: "warning" };
const node = { platform: "node", format: "cjs", target: "node20" };
// The UI: one script and one stylesheet (with the codicon font beside them), names fixed so the
// pages that load them need no manifest.
const webview = { entryPoints: { webview: "webview/src/main.ts" }, outdir: "dist/webview", platform: "browser", format: "iife", target: "chrome120", loader: { ".ttf": "file" }, assetNames: "[name]" };

for (const target of [...targets.map((t) => ({ ...node, ...t })), webview]) {
  const options = { ...common, ...target };
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}

// The CLI is the package's bin: `npx --no-install refract` runs it directly.
if (!watch) chmodSync("dist/cli.js", 0o755);
