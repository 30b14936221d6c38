// The `refract` bin (dist/cli.js): runs the server bundle (dist/server.js, built from main.ts)
// through V8's code cache, kept in the OS's temp folder per bundle. Compiling that 1.6 MB bundle
// and the functions start-up calls is a good part of every start, the language server's included.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runWithCodeCache } from "./codeCache";
import { setWorkerHeapFlags } from "./runtime/workerHeap";

setWorkerHeapFlags();

const server = path.join(__dirname, "server.js");
const { size, mtimeMs } = fs.statSync(server);
// The temp folder is shared, and a code cache is code: only a folder of this user's that no one
// else can write to is used.
const folder = path.join(os.tmpdir(), `refract-${process.getuid?.() ?? "user"}`);
let trusted = false;
try {
  fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  const stat = fs.statSync(folder);
  trusted = process.getuid === undefined || (stat.uid === process.getuid() && (stat.mode & 0o022) === 0);
} catch {
  // no temp folder to use: compile without a cache
}
const cache = trusted ? path.join(folder, `server-${size}-${Math.round(mtimeMs)}.cache`) : null;
if (cache) keepRecentCaches(folder, cache);
// Saved once a server has run for a few seconds: start-up's functions are compiled by then.
runWithCodeCache(server, cache, 3000);

/**
 * Every build of the server has a cache of its own (0.7 MB), and every `npm start` or `npm test`
 * builds: a new one makes the others go but the last few saved.
 */
function keepRecentCaches(folder: string, current: string, keep = 3): void {
  try {
    if (fs.existsSync(current)) return;
    const others = fs
      .readdirSync(folder)
      .filter((f) => /^server-\d+-\d+\.cache$/.test(f))
      .map((f) => ({ file: path.join(folder, f), saved: fs.statSync(path.join(folder, f)).mtimeMs }))
      .sort((a, b) => b.saved - a.saved);
    for (const { file } of others.slice(keep)) fs.rmSync(file, { force: true });
  } catch {
    // another process pruned at the same time, or the folder went: nothing to keep tidy
  }
}
