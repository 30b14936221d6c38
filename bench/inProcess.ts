// Refract served in the benchmark's own process, on a bench fixture, with `serve`'s defaults (SERVE_DEFAULTS) and a
// throw-away data dir; for the benchmarks that drive the runtime directly (the API that would do
// it from outside is a later issue).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SERVE_DEFAULTS, Served, serve } from "../server/src/serve";

export const ROOT = path.resolve(__dirname, "..");

/** `dataDir` defaults to a throw-away one. */
export async function serveFixture(fixture: string, dataDir?: string): Promise<Served> {
  if (!dataDir) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `refract-bench-${fixture}-`));
    process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
    dataDir = path.join(tmp, "data");
  }
  const options = { ...SERVE_DEFAULTS, workspace: path.join(ROOT, "bench", "fixtures", fixture), port: 0, portIsDefault: false, dataDir };
  return serve({ ...options, allowedHosts: [], json: true, workerScript: path.join(ROOT, "dist", "worker.js") }, () => {});
}
