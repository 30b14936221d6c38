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
// Saved once a server has run for a few seconds: start-up's functions are compiled by then.
runWithCodeCache(server, trusted ? path.join(folder, `server-${size}-${Math.round(mtimeMs)}.cache`) : null, 3000);
