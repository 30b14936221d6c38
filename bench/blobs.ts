// Blob URL benchmark (`npm run bench:blobs`, about 20 seconds): GET of a ~2 KB and a ~1 MB stored
// step result through their signed URLs, and of an onTrigger result made from its request when
// read, against baselines measured in the same run: reading the same bytes with `fs`, and a bare
// Node http server answering the same bytes from memory. Refract runs
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

/** A bare Node http server answering these bytes from memory. */
async function bareServer(bytes: Buffer): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((_req, r) => r.end(bytes));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, close: () => server.close() };
}

async function main() {
  const served = await serveFixture("trivial");
  const { runtime, blobs } = served;
  const system = runtime.instances.systemInstance(runtime.integration!.meta.id)!;
  const flowConfig = (name: string) => runtime.instances.flowConfigsOf(system.id).find((f) => runtime.flowById(f.flowId)!.name === name)!;
  const run = async (url: string, body: string) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
    const { executionId } = (await res.json()) as { executionId: string };
    while (runtime.store.executions.get(executionId)!.endedAt === null) await new Promise((r) => setTimeout(r, 10));
    return runtime.store.executions.get(executionId)!;
  };
  const rows: string[][] = [];
  for (const [label, kb] of [["2 KB", 2], ["1 MB", 1024]] as const) {
    const x = await run(`${runtime.webhookUrl(flowConfig("Large").id)}?kb=${kb}`, "{}");
    const step = x.steps[1]; // onExecution: its result is stored
    const file = await runtime.store.blobFile(x);
    const url = blobs.url(served.url, `/results/${x.id}/onExecution`);
    const n = label === "2 KB" ? N : N / 10;
    const bytes = Buffer.alloc(step.length);
    const fd = await fs.promises.open(file, "r");
    const viaFs = await timeEach(n, () => fd.read(bytes, 0, step.length, step.offset));
    await fd.close();
    const bare = await bareServer(bytes);
    const viaBare = await timeEach(n, () => get(bare.url));
    bare.close();
    const viaRefract = await timeEach(n, () => get(url));
    const p50 = quantile(viaRefract, 0.5);
    log(`${label} step result (${step.length} bytes): GET p50 ${p50.toFixed(3)} ms, p99 ${quantile(viaRefract, 0.99).toFixed(3)} ms; fs read p50 ${quantile(viaFs, 0.5).toFixed(3)} ms; bare http p50 ${quantile(viaBare, 0.5).toFixed(3)} ms`);
    rows.push([`GET of a ${label} resultsUrl, p50`, `${p50.toFixed(3)} ms`, label === "2 KB" ? "<= 1 ms" : "streams", `${(p50 / quantile(viaBare, 0.5)).toFixed(1)}x bare http, ${(p50 / quantile(viaFs, 0.5)).toFixed(1)}x fs`]);
  }
  // A flow without a trigger of its own: its onTrigger result is made from the stored request when read.
  const x = await run(runtime.webhookUrl(flowConfig("Trivial").id), JSON.stringify({ order: 1, note: "x".repeat(990) }));
  const made = (await runtime.store.readStepResult(x, x.steps[0]))!;
  const bare = await bareServer(made);
  const viaBare = await timeEach(N, () => get(bare.url));
  bare.close();
  const viaRefract = await timeEach(N, () => get(blobs.url(served.url, `/results/${x.id}/onTrigger`)));
  const p50 = quantile(viaRefract, 0.5);
  log(`onTrigger result made from a 1 KB request (${made.length} bytes): GET p50 ${p50.toFixed(3)} ms, p99 ${quantile(viaRefract, 0.99).toFixed(3)} ms; bare http p50 ${quantile(viaBare, 0.5).toFixed(3)} ms`);
  rows.push(["GET of a made onTrigger result, p50", `${p50.toFixed(3)} ms`, "<= 1 ms", `${(p50 / quantile(viaBare, 0.5)).toFixed(1)}x bare http`]);
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
