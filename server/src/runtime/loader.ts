import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as esbuild from "esbuild";
import { escapeRegExp } from "../escapeRegExp";
import { nativeAsync } from "./nativeAsync";

/**
 * A build's outcome. `reused` is a good bundle identical to the last one: the one serving, or at
 * start-up the one the previous run served (no new version for either).
 */
export type BuildOutcome = { ok: true; file: string; reused: boolean } | { ok: false; error: string };

/**
 * `builds/last.json`: the last bundle that served (it built, and its integration() loaded), and
 * the size and mtime of every file it was built from.
 */
interface BuildCache {
  /** The entry and esbuild version it was built with: another entry or esbuild means another bundle. */
  builtWith: string;
  file: string;
  inputs: Record<string, [mtimeMs: number, size: number]>;
}

const SPECTRAL = "@prismatic-io/spectral";
/**
 * How long after the first bundle serves start-up's background work begins: esbuild's watch (its
 * first build is cold, and sees any change made meanwhile) and the other workers' loads. The
 * first requests, an editor's views filling, get the CPU meanwhile.
 */
export const BACKGROUND_AFTER_MS = 1500;

/** How an integration is bundled. */
const OPTIONS = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // Beside the bundle, not inline: a worker reads and keeps the bundle's text (an inline map
  // nearly doubles a spectral bundle), and the map is read only to map a stack.
  sourcemap: "external",
  sourcesContent: false,
  loader: { ".md": "text" },
} satisfies esbuild.BuildOptions;
/** The same options for esbuild's command line: `sourcesContent: false` is `--sources-content=false`, `loader` `--loader:.md=text`. */
const CLI_FLAGS = Object.entries(OPTIONS).flatMap(([name, value]) => {
  const flag = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (typeof value === "object") return Object.entries(value).map(([ext, loader]) => `${flag}:${ext}=${loader}`);
  return value === true ? [flag] : [`${flag}=${value}`];
});
/** The native binary on Linux and macOS (esbuild's install puts it there); elsewhere spawning it fails and the context builds. */
const ESBUILD_BIN = process.env.ESBUILD_BINARY_PATH || path.join(path.dirname(require.resolve("esbuild/package.json")), "bin", "esbuild");

/** The integration's entry unless `--entry` (the `refract.entry` setting) names another, relative to the workspace folder. */
export const DEFAULT_ENTRY = "src/index.ts";

/**
 * Where a workspace's integration is: a folder with `.spectral/`, or a package.json that depends
 * on spectral. Returns the entry file, or why there is none.
 */
export function findIntegration(workspace: string, entry?: string): { entry: string } | { error: string } {
  const pkgPath = path.join(workspace, "package.json");
  let isCni = fs.existsSync(path.join(workspace, ".spectral"));
  if (!isCni && fs.existsSync(pkgPath)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pkgPath, "utf8"));
      isCni = Boolean(pkg.dependencies?.[SPECTRAL] ?? pkg.devDependencies?.[SPECTRAL] ?? pkg.peerDependencies?.[SPECTRAL]);
    } catch (err) {
      return { error: `${pkgPath} is not valid JSON: ${(err as Error).message}` };
    }
  }
  if (!isCni) return { error: `no integration in ${workspace}: expected a .spectral/ folder or a package.json that depends on ${SPECTRAL}` };
  const file = path.resolve(workspace, entry ?? DEFAULT_ENTRY);
  if (!fs.existsSync(file)) return { error: `the integration's entry ${path.relative(workspace, file) || file} does not exist${entry ? "" : " (use --entry)"}` };
  return { entry: file };
}

/**
 * Bundles the integration with esbuild and rebuilds when its sources change. Each good bundle is
 * written to a file of its own, so executions of an older build keep running while a newer one
 * loads. While the workspace has no integration, it looks again every second.
 */
export class Loader {
  private ctx: esbuild.BuildContext | null = null;
  private poll: NodeJS.Timeout | null = null;
  private lastMissing = "";
  /** The bundle serving (`serving`). */
  private current: string | null = null;
  /** The bundle the previous run served, at start-up. */
  private previous: string | null = null;
  /** The last bundle whose integration() did not load, and why (`failed`). */
  private failure: { file: string; error: string } | null = null;
  /** That failure, when it was start-up's build: the watch's first build reports it again without loading it. */
  private failedAtStart: { file: string; error: string } | null = null;
  /** The files each bundle of this run was built from, for `last.json` once it serves. */
  private readonly inputsOf = new Map<string, BuildCache["inputs"]>();
  private attaching: Promise<void> = Promise.resolve();
  private watchSoon: NodeJS.Timeout | undefined;
  /** stop() may come while start() still builds: nothing may start watching after it. */
  private stopped = false;

  constructor(
    private readonly workspace: string,
    private readonly outDir: string,
    private readonly onBuild: (outcome: BuildOutcome) => unknown,
    private readonly entry?: string,
  ) {}

  /**
   * Serves a bundle at once, then builds and watches with esbuild's incremental context (whose
   * first build is cold: ~0.75 s for a spectral integration here). The bundle served first is the
   * previous run's when none of its sources changed, or else one built by esbuild's command line,
   * which runs with Go's garbage collector off and exits (~0.5 s); the context's first build then
   * finds the same bundle (no new version) or what changed since. When the sources do not build,
   * or their integration() does not load, the previous run's bundle serves anyway.
   */
  async start(): Promise<void> {
    fs.mkdirSync(this.outDir, { recursive: true });
    const last = this.lastGood();
    this.previous = last?.file ?? null;
    // Earlier builds go; the last good one stays, with its source map and code cache (`<bundle>.map`, `.cache`).
    const keep = last && path.basename(last.file);
    for (const f of fs.readdirSync(this.outDir)) {
      if (f.startsWith("build-") && !(keep && (f === keep || f.startsWith(`${keep}.`)))) fs.rmSync(path.join(this.outDir, f));
    }
    const serveLast = () => this.onBuild({ ok: true, file: last!.file, reused: true });
    if (last?.fresh) {
      await serveLast();
    } else {
      const built = await this.buildOnce();
      if (this.current === null) {
        // Sources that do not build now, or whose integration() does not load: the last good
        // build serves, as it did before the restart, and the context's first build reports why
        // (before the ready line); a load that failed is not tried twice (one that hangs takes 30 s).
        this.failedAtStart = this.failure?.file === built ? this.failure : null;
        if (last && !this.stopped) await serveLast();
        return this.stopped ? undefined : this.attach();
      }
    }
    if (!this.stopped) this.watchSoon = setTimeout(() => (this.attaching = this.attach()), BACKGROUND_AFTER_MS);
  }

  private builtWith(): string | null {
    const found = findIntegration(this.workspace, this.entry);
    // What a cached bundle must have been made with: the entry, the esbuild version, the map's form, nativeAsync.
    return "entry" in found ? `${found.entry} esbuild ${esbuild.version} map beside, native async` : null;
  }

  /**
   * The last good bundle (`last.json`), if it is still there and was made as this run would make
   * it; `fresh` when none of its sources changed since.
   */
  private lastGood(): { file: string; fresh: boolean } | null {
    try {
      const cache: BuildCache = JSON.parse(fs.readFileSync(path.join(this.outDir, "last.json"), "utf8"));
      if (cache.builtWith !== this.builtWith() || !fs.existsSync(cache.file)) return null;
      const inputs = Object.entries(cache.inputs);
      const fresh =
        inputs.length > 0 &&
        inputs.every(([file, [mtimeMs, size]]) => {
          const stat = fs.statSync(file, { throwIfNoEntry: false });
          return stat && stat.mtimeMs === mtimeMs && stat.size === size;
        });
      return { file: cache.file, fresh };
    } catch {
      return null;
    }
  }

  private async attach(): Promise<void> {
    const found = findIntegration(this.workspace, this.entry);
    if ("error" in found) {
      if (found.error !== this.lastMissing) {
        this.lastMissing = found.error;
        this.onBuild({ ok: false, error: found.error });
      }
      this.poll ??= setInterval(() => void this.attach(), 1000);
      return;
    }
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    const first = new Promise<void>((resolve) => {
      this.ctx = null;
      void esbuild
        .context({
          ...OPTIONS,
          entryPoints: [found.entry],
          // Written by esbuild, not handed over: its JS API keeps a buffer the size of the largest
          // answer for as long as the context lives (bundle and map: ~7.5 MB for spectral).
          outfile: path.join(this.outDir, "bundle.js"),
          metafile: true,
          absWorkingDir: this.workspace,
          logLevel: "silent",
          // The first build resolves once the runtime has taken it (loaded it, or said why not).
          plugins: [{ name: "refract", setup: (b) => b.onEnd((r) => void Promise.resolve(this.finished(r)).then(() => resolve(), () => resolve())) }],
        })
        .then((ctx) => {
          this.ctx = ctx;
          return ctx.watch();
        })
        .catch((err) => {
          this.onBuild({ ok: false, error: String(err?.message ?? err) });
          resolve();
        });
    });
    await first;
  }

  private finished(result: esbuild.BuildResult): unknown {
    const failedAtStart = this.failedAtStart;
    this.failedAtStart = null;
    if (result.errors.length > 0) return this.onBuild({ ok: false, error: result.errors.map((e) => formatMessage(this.workspace, e)).join("\n") });
    const outcome = this.keep(Object.keys(result.metafile?.inputs ?? {}));
    return this.onBuild(outcome.ok && outcome.file === failedAtStart?.file ? { ok: false, error: failedAtStart.error } : outcome);
  }

  /**
   * A cold build by esbuild's command line, with the context's options; resolves to its bundle once
   * the runtime has taken it. When it cannot run or fails, the context builds instead, and
   * reports errors with their locations.
   */
  private async buildOnce(): Promise<string | null> {
    const found = findIntegration(this.workspace, this.entry);
    if ("error" in found) return null;
    // The context's outfile (the map's paths are relative to it); what is kept is written under its content's name.
    const out = (f: string) => path.join(this.outDir, f);
    let outcome: BuildOutcome;
    try {
      const code = await new Promise<number | null>((resolve) => {
        const args = [found.entry, ...CLI_FLAGS, `--outfile=${out("bundle.js")}`, `--metafile=${out("meta.json")}`, "--log-level=silent"];
        spawn(ESBUILD_BIN, args, { cwd: this.workspace, stdio: "ignore" })
          .on("error", () => resolve(null))
          .on("exit", resolve);
      });
      if (code !== 0) return null;
      outcome = this.keep(Object.keys(JSON.parse(fs.readFileSync(out("meta.json"), "utf8")).inputs));
    } catch {
      return null;
    } finally {
      for (const f of ["bundle.js", "bundle.js.map", "meta.json"]) fs.rmSync(out(f), { force: true });
    }
    await this.onBuild(outcome);
    return outcome.ok ? outcome.file : null;
  }

  /**
   * Keeps the bundle esbuild just wrote (`bundle.js` and its map) with TypeScript's generator-run
   * async functions made native again (nativeAsync.ts), under its content's name; unless it is the
   * one serving, or at start-up the one the previous run served.
   */
  private keep(inputFiles: string[]): BuildOutcome {
    const bundle = path.join(this.outDir, "bundle.js");
    const code = nativeAsync(fs.readFileSync(bundle, "utf8")).code;
    // Named by content: an unchanged rebuild is recognised, and files never collide across runs.
    const file = path.join(this.outDir, `build-${createHash("sha256").update(code).digest("hex").slice(0, 16)}.js`);
    fs.rmSync(bundle);
    const inputs: BuildCache["inputs"] = {};
    for (const input of inputFiles) {
      const abs = path.resolve(this.workspace, input);
      const stat = fs.statSync(abs, { throwIfNoEntry: false });
      if (stat) inputs[abs] = [stat.mtimeMs, stat.size];
    }
    this.inputsOf.set(file, inputs);
    const reused = file === (this.current ?? this.previous);
    if (reused) fs.rmSync(`${bundle}.map`, { force: true });
    else {
      fs.writeFileSync(file, code);
      fs.renameSync(`${bundle}.map`, `${file}.map`);
    }
    if (file === this.current) this.serving(file); // the same bundle from touched sources: the next start need not rebuild
    return { ok: true, file, reused };
  }

  /** The runtime could not serve this bundle: its integration() did not load, for this reason. */
  failed(file: string, error: string): void {
    this.failure = { file, error };
  }

  /**
   * The runtime serves this bundle: its integration() loaded. Only now is it the one a restart
   * serves when the sources do not build or load (`last.json`).
   */
  serving(file: string): void {
    this.current = file;
    const inputs = this.inputsOf.get(file);
    if (!inputs) return; // the previous run's, whose last.json stands
    fs.writeFileSync(path.join(this.outDir, "last.json"), JSON.stringify({ builtWith: this.builtWith()!, file, inputs } satisfies BuildCache));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.watchSoon);
    if (this.poll) clearInterval(this.poll);
    // Bounded: esbuild's process can die mid-build (a Ctrl-C reaches the whole process group),
    // and then the build it was running never reports.
    const bounded = (p: Promise<unknown> | undefined) => Promise.race([p, new Promise((r) => setTimeout(r, 2000).unref())]);
    await bounded(this.attaching);
    await bounded(this.ctx?.dispose());
  }
}

function formatMessage(workspace: string, m: esbuild.Message): string {
  if (!m.location) return m.text;
  const file = path.relative(workspace, path.resolve(workspace, m.location.file));
  return `${file}:${m.location.line}:${m.location.column + 1}: ${m.text}`;
}

/**
 * The first place in the integration's own source (not node_modules) a stack points to, as
 * `file:line:column` relative to the workspace; Node maps bundle frames through the inline
 * source map, so these are TypeScript positions.
 */
export function sourceLocation(workspace: string, stack: string): string | null {
  // Looked for by the workspace's path, which may hold spaces and parentheses.
  for (const m of stack.matchAll(new RegExp(`(${escapeRegExp(workspace + path.sep)}[^\\n]*?):(\\d+):(\\d+)`, "g"))) {
    const file = m[1];
    if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    return `${path.relative(workspace, file)}:${m[2]}:${m[3]}`;
  }
  return null;
}
