import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import * as vm from "node:vm";
import { threadId } from "node:worker_threads";

/**
 * Runs a CommonJS file as Node's own loader would (with its require, module, __filename and
 * __dirname; the wrapper shares the file's first line, as Node's did) and returns its exports,
 * compiled with the V8 code cache in `cacheFile` when one is there (none: null). When none is, or
 * V8 refused it (another source, V8 version or flags), one is saved `saveAfterMs` later, by when
 * the functions that ran meanwhile are compiled and are in it too. Node 20 keeps no compile cache
 * of its own (22 has `module.enableCompileCache`).
 */
export function runWithCodeCache(file: string, cacheFile: string | null, saveAfterMs: number): unknown {
  let cachedData: Buffer | undefined;
  try {
    if (cacheFile) cachedData = fs.readFileSync(cacheFile);
  } catch {
    // none yet
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(file, "utf8")}\n})`, { filename: file, cachedData });
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    setTimeout(() => {
      try {
        const partial = `${cacheFile}.${process.pid}.${threadId}`; // workers of one process save side by side
        fs.writeFileSync(partial, script.createCachedData());
        fs.renameSync(partial, cacheFile);
      } catch {
        // a read-only folder: the next start compiles, as without a cache
      }
    }, saveAfterMs).unref();
  }
  const module = { exports: {}, filename: file, id: file };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
