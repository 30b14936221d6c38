import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import * as vm from "node:vm";

/**
 * Runs a CommonJS file as Node's own loader would (with its require, module, __filename and
 * __dirname; the wrapper shares the file's first line, as Node's did) and returns its exports,
 * compiled with the V8 code cache in `cacheFile` when one is there. When none is, or V8 refused it
 * (another source, V8 version or flags), one is saved `saveAfterMs` later, by when the functions
 * that ran meanwhile are compiled and are in it too. Node 20 keeps no compile cache of its own (22
 * has `module.enableCompileCache`).
 */
export function runWithCodeCache(file: string, cacheFile: string, saveAfterMs: number): unknown {
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    // none yet
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(file, "utf8")}\n})`, { filename: file, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    setTimeout(() => {
      try {
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
        fs.writeFileSync(`${cacheFile}.${process.pid}`, script.createCachedData());
        fs.renameSync(`${cacheFile}.${process.pid}`, cacheFile);
      } catch {
        // a read-only folder: the next start compiles, as without a cache
      }
    }, saveAfterMs).unref();
  }
  const module = { exports: {}, filename: file, id: file };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
