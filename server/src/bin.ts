// The `refract` bin (dist/cli.js): runs the server bundle (dist/server.js, built from main.ts)
// through V8's code cache, kept in the OS's temp folder per bundle. Compiling that 1.6 MB bundle
// and the functions start-up calls is a good part of every start, the language server's included.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runWithCodeCache } from "./codeCache";

const server = path.join(__dirname, "server.js");
const { size, mtimeMs } = fs.statSync(server);
const cache = path.join(os.tmpdir(), `refract-${process.getuid?.() ?? "user"}`, `server-${size}-${Math.round(mtimeMs)}.cache`);
// Saved once a server has run for a few seconds: start-up's functions are compiled by then.
runWithCodeCache(server, cache, 3000);
