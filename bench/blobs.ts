// Blob URL benchmark (`npm run bench:blobs`, about 20 seconds): GET of a ~2 KB and a ~1 MB step
// result through their signed URLs, against baselines measured in the same run: reading the same
// bytes with `fs`, and a bare Node http server answering the same bytes from memory. Refract runs
// in this process; requests go over keep-alive HTTP from this process too (the client is cheap
// next to what is measured).
import * as fs from "node:fs";
import * as http from "node:http";
import { serveFixture } from "./inProcess";

const N = 2000;
const log = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${s}\n`);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let n = 0;
        res.on("data", (c: Buffer) => (n += c.length));
        res.on("end", () => resolve(n));
      })
      .on("error", reject);
  });
}

async function timeEach(n: number, once: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  return times.slice(Math.floor(n / 5)); // the first fifth warms up
}

async function main() {
  const served = await serveFixture("trivial");
  const { runtime, blobs } = served;
  const system = runtime.instances.systemInstance(runtime.integration!.meta.id)!;
  const fc = runtime.instances.flowConfigsOf(system.id).find((f) => runtime.flowById(f.flowId)!.name === "Trivial")!;
  const rows: string[][] = [];
  for (const [label, bodyBytes] of [["2 KB", 380], ["1 MB", 420 * 1024]] as const) {
    // The trigger step's result holds the request body (as text and base64): about the size wanted.
    const res = await fetch(runtime.webhookUrl(fc.id), { method: "POST", headers: { "content-type": "text/plain" }, body: "x".repeat(bodyBytes) });
    const { executionId } = (await res.json()) as { executionId: string };
    while (runtime.store.executions.get(executionId)!.endedAt === null) await new Promise((r) => setTimeout(r, 10));
    const x = runtime.store.executions.get(executionId)!;
    const step = x.steps[0];
    const file = await runtime.store.blobFile(x);
    const url = blobs.url(served.url, `/results/${executionId}/onTrigger`);
    const n = label === "2 KB" ? N : N / 10;
    const bytes = Buffer.alloc(step.length);
    const fd = await fs.promises.open(file, "r");
    const viaFs = await timeEach(n, () => fd.read(bytes, 0, step.length, step.offset));
    await fd.close();
    const bare = http.createServer((_req, r) => r.end(bytes));
    await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
    const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/`;
    const viaBare = await timeEach(n, () => get(bareUrl));
    bare.close();
    const viaRefract = await timeEach(n, () => get(url));
    const p50 = quantile(viaRefract, 0.5);
    log(`${label} step result (${step.length} bytes): GET p50 ${p50.toFixed(3)} ms, p99 ${quantile(viaRefract, 0.99).toFixed(3)} ms; fs read p50 ${quantile(viaFs, 0.5).toFixed(3)} ms; bare http p50 ${quantile(viaBare, 0.5).toFixed(3)} ms`);
    rows.push([`GET of a ${label} resultsUrl, p50`, `${p50.toFixed(3)} ms`, label === "2 KB" ? "<= 1 ms" : "streams", `${(p50 / quantile(viaBare, 0.5)).toFixed(1)}x bare http, ${(p50 / quantile(viaFs, 0.5)).toFixed(1)}x fs`]);
  }
  await served.stop();
  agent.destroy();
  process.stdout.write(`\n${"figure".padEnd(34)}  ${"value".padStart(10)}  ${"target".padStart(8)}  ratio\n`);
  for (const [name, value, target, ratio] of rows) process.stdout.write(`${name.padEnd(34)}  ${value.padStart(10)}  ${target.padStart(8)}  ${ratio}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
