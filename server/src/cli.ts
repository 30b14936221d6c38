import * as path from "node:path";
import { parseArgs } from "node:util";
import { SERVE_DEFAULTS as D, SERVE_LIMITS, ServeError, ServeOptions, TOKEN_PATTERN, serve } from "./serve";

const USAGE = `Usage: refract serve <workspace> [options]

Runs the Prismatic code-native integration in <workspace> locally: webhooks, executions,
step results and logs.

Options:
  --port N                 port (default ${D.port}, or the next free one; 0: any free port)
  --host H                 listening address (default ${D.host})
  --data-dir D             where executions and metadata live (default <workspace>/.refract)
  --token T                API token (default: $REFRACT_TOKEN, else a persisted random token)
  --execution-timeout S    time limit per execution in seconds (default ${D.executionTimeoutS})
  --sync-timeout S         how long a synchronous webhook waits, in seconds (default ${D.syncTimeoutS})
  --memory-limit MB        V8 heap limit per worker (default ${D.memoryLimitMb})
  --workers N              worker threads (default ${D.workers})
  --max-body MB            largest webhook body (default ${D.maxBodyMb})
  --max-concurrency N      executions running at once (default ${D.maxConcurrency})
  --max-chain-depth N      longest chain of cross-flow calls (default ${D.maxChainDepth})
  --retention-days N       days executions and logs are kept (default ${D.retentionDays})
  --allowed-host NAME      another Host name /api, blob URLs, /ui and /events answer to, e.g. a tunnel's (repeatable)
  --entry FILE             the integration's entry (default src/index.ts)
  --json                   one JSON object per line on stdout
  -h, --help               this help
`;

/** Exit code 2: the command line itself is wrong. */
class UsageError extends Error {}

function integer(name: string, value: string | undefined, key: keyof typeof SERVE_LIMITS): number {
  const [min, max] = SERVE_LIMITS[key];
  if (value === undefined) return D[key];
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

export function parseServeArgs(argv: string[]): ServeOptions | "help" {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "data-dir": { type: "string" },
      token: { type: "string" },
      "execution-timeout": { type: "string" },
      "sync-timeout": { type: "string" },
      "memory-limit": { type: "string" },
      workers: { type: "string" },
      "max-body": { type: "string" },
      "max-concurrency": { type: "string" },
      "max-chain-depth": { type: "string" },
      "retention-days": { type: "string" },
      "allowed-host": { type: "string", multiple: true },
      entry: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const [command, workspaceArg, ...rest] = positionals;
  if (command !== "serve") throw new UsageError(command ? `Unknown command "${command}"` : "Missing command");
  if (!workspaceArg) throw new UsageError("Missing <workspace>: the folder of the integration to serve");
  if (rest.length) throw new UsageError(`Unexpected arguments: ${rest.join(" ")}`);
  const workspace = path.resolve(workspaceArg);
  const token = values.token ?? process.env.REFRACT_TOKEN;
  if (token !== undefined && !TOKEN_PATTERN.test(token)) {
    throw new UsageError(`The token (${values.token !== undefined ? "--token" : "REFRACT_TOKEN"}) must be 8 to 512 printable characters without spaces`);
  }
  for (const flag of ["data-dir", "entry"] as const) if (values[flag] !== undefined && !values[flag]!.trim()) throw new UsageError(`--${flag} must not be empty`);
  const host = values.host ?? D.host;
  if (!host.trim()) throw new UsageError("--host must not be empty");
  return {
    workspace,
    port: integer("port", values.port, "port"),
    portIsDefault: values.port === undefined,
    host,
    dataDir: path.resolve(values["data-dir"] ?? path.join(workspace, ".refract")),
    token,
    executionTimeoutS: integer("execution-timeout", values["execution-timeout"], "executionTimeoutS"),
    syncTimeoutS: integer("sync-timeout", values["sync-timeout"], "syncTimeoutS"),
    memoryLimitMb: integer("memory-limit", values["memory-limit"], "memoryLimitMb"),
    workers: integer("workers", values.workers, "workers"),
    maxBodyMb: integer("max-body", values["max-body"], "maxBodyMb"),
    maxConcurrency: integer("max-concurrency", values["max-concurrency"], "maxConcurrency"),
    maxChainDepth: integer("max-chain-depth", values["max-chain-depth"], "maxChainDepth"),
    retentionDays: integer("retention-days", values["retention-days"], "retentionDays"),
    allowedHosts: (values["allowed-host"] ?? []).map((h) => {
      if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(h)) throw new UsageError(`--allowed-host takes a host name (optionally with :port), not "${h}"`);
      return h;
    }),
    entry: values.entry,
    json: values.json ?? false,
    workerScript: path.join(__dirname, "worker.js"),
  };
}

/** How long a signal lets running executions finish (INTERFACES.md §1). */
const STOP_GRACE_MS = 10_000;

/** `refract <args>`: the CLI (the bin's entry is main.ts). */
export async function runCli(args: string[]): Promise<void> {
  let options: ServeOptions | "help";
  try {
    options = parseServeArgs(args);
  } catch (err) {
    process.stderr.write(`refract: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return;
  }
  // A reader of the output that goes away (`| head -1`, a parent that closed its pipe) makes the
  // next write fail with EPIPE: the output is lost, the runtime keeps serving.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
  // Signal handlers come first: a signal during start-up stops the server once it is up.
  const serving = serve(options);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      process.stderr.write(`refract: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`refract: ${signal}: finishing running executions (up to 10 s)\n`);
    // Until the integration's first load ends (it may never: user code that loops at the top level
    // until the time limit) nothing runs, and the runtime cannot stop: it is given the same 10 s.
    const startUp = new Promise<null>((resolve) => setTimeout(resolve, STOP_GRACE_MS, null).unref());
    Promise.race([serving, startUp])
      .then((served) => {
        if (served) return served.stop();
        process.stderr.write(`refract: still starting after ${STOP_GRACE_MS / 1000} s (the integration's first load has not ended): exiting; no execution had started, and the next start runs those accepted meanwhile\n`);
      })
      .then(
        () => process.exit(0),
        (err) => {
          process.stderr.write(`refract: stopping failed: ${(err as Error).message}\n`);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  try {
    await serving;
  } catch (err) {
    process.stderr.write(`refract: ${err instanceof ServeError ? err.message : (err as Error).stack}\n`);
    process.exit(1);
  }
}

