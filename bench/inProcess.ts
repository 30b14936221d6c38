// Refract served in the benchmark's own process, on a bench fixture, with `serve`'s defaults and a
// throw-away data dir; for the benchmarks that drive the runtime directly (the API that would do
// it from outside is a later issue).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Served, serve } from "../server/src/serve";

export const ROOT = path.resolve(__dirname, "..");

export async function serveFixture(fixture: string): Promise<Served> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `refract-bench-${fixture}-`));
  process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
  return serve(
    {
      workspace: path.join(ROOT, "bench", "fixtures", fixture),
      port: 0,
      portIsDefault: false,
      host: "127.0.0.1",
      dataDir: path.join(tmp, "data"),
      executionTimeoutS: 900,
      syncTimeoutS: 30,
      memoryLimitMb: 1024,
      workers: 2,
      maxBodyMb: 6,
      maxConcurrency: 500,
      maxChainDepth: 20,
      retentionDays: 14,
      allowedHosts: [],
      json: true,
      workerScript: path.join(ROOT, "dist", "worker.js"),
    },
    () => {},
  );
}
