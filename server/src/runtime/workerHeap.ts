import { setFlagsFromString } from "node:v8";

/**
 * Each worker's young generation. V8's default lets it reach 48 MB per isolate, which under
 * load made the workers most of the process's memory; executions allocate short-lived objects
 * that a small nursery collects just as well (bench, peak RSS of the saturation run: 350-374 MB
 * by default, ~313 MB at 16, 300-326 MB at 8, 298-303 MB at 4, with no loss of throughput).
 * Given to each worker in its resourceLimits (pool.ts).
 */
export const WORKER_YOUNG_GENERATION_MB = 4;

/**
 * How large a worker's old generation may grow before V8 collects it whole (mark-compact). Code
 * run by generators leaves garbage there: V8 gives each generator closure a map of its own, in the
 * old generation, that points back to the closure, so what it captures outlives every scavenge and
 * waits for the next mark-compact. Spectral's dist was all TypeScript compiled to generators
 * (about 7 KB an execution; nativeAsync.ts now makes them async functions again, but an
 * integration's other packages may still run some). With V8's own limit for a ~14 MB heap that
 * was a mark-compact every ~2 s per worker at 1,000 executions/s, whose CPU the thread answering
 * webhooks felt. With the main thread's own limit at 64 MB (the
 * bin's shebang, esbuild.mjs) and this one, the paced p99 of `npm run bench` went from a median
 * of 2.2 ms to 1.3 ms; 24 and 32 MB measured alike, and the smaller keeps the workers' memory lower.
 */
const WORKER_INITIAL_OLD_GENERATION_MB = 24;

/**
 * V8 reads the flag when an isolate is made: the main thread's is made already, each worker's
 * takes it. The bin sets it before it compiles anything: V8 code caches carry a hash of the
 * flags, and a cache written after the flags changed would be refused at every start.
 */
export function setWorkerHeapFlags(): void {
  setFlagsFromString(`--initial-old-space-size=${WORKER_INITIAL_OLD_GENERATION_MB}`);
}
