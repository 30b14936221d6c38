// A log scan thread (store/scans.ts): tallies one day's matching lines per task.
import { parentPort } from "node:worker_threads";
import { DayTallyTask, tallyDay } from "./logs";

parentPort!.on("message", (task: DayTallyTask) => {
  tallyDay(task).then(
    (tally) => parentPort!.postMessage({ tally }, [tally.buffer as ArrayBuffer]),
    (err: Error) => parentPort!.postMessage({ error: err.message }),
  );
});
