// A log scan thread (store/scans.ts): one day's tally, or one stretch's matching lines, per task.
import { parentPort } from "node:worker_threads";
import { ScanTask, findInStretch, tallyDay } from "./logs";

parentPort!.on("message", (task: ScanTask) => {
  const work = task.kind === "tally" ? tallyDay(task) : findInStretch(task);
  work.then(
    (result) => parentPort!.postMessage({ result }, result instanceof Float64Array ? [result.buffer as ArrayBuffer] : []),
    (err: Error) => parentPort!.postMessage({ error: err.message }),
  );
});
