// One build per target. This issue needs the server's CLI and its worker; the extension client
// and the webview join here later. `--watch` rebuilds on change, `--production` minifies.
import { chmodSync } from "node:fs";
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const production = process.argv.includes("--production");

const targets = [
  { entryPoints: ["server/src/cli.ts"], outfile: "dist/cli.js", banner: { js: "#!/usr/bin/env node" }, external: ["esbuild"] },
  { entryPoints: ["server/src/runtime/worker.ts"], outfile: "dist/worker.js" },
];

for (const target of targets) {
  const options = {
    ...target,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    sourcemap: !production,
    minify: production,
    logLevel: "warning",
  };
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}

// The CLI is the package's bin: `npx --no-install refract` runs it directly.
if (!watch) chmodSync("dist/cli.js", 0o755);
