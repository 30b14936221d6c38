import * as fs from "node:fs";
import * as path from "node:path";
import { AppendFile, cutTornTail } from "./appendFile";

/**
 * Persisted integration state (spectral-runtime.md §3): `instanceState` per flow of an instance,
 * `crossFlowState` per instance, `integrationState` per integration, by scope key. Each change is
 * one appended line of `state.ndjson` (`{"k": scope key, "v": value}`), so an execution never
 * rewrites a whole file; the file is compacted at start-up once old values are most of it.
 */
export class StateStore {
  private readonly values = new Map<string, Record<string, unknown>>();
  private readonly file: string;
  private journal: AppendFile;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, "state.ndjson");
    const size = cutTornTail(this.file);
    let lines = 0;
    if (size > 0) {
      for (const line of fs.readFileSync(this.file, "utf8").split("\n")) {
        if (!line) continue;
        lines++;
        try {
          const { k, v } = JSON.parse(line);
          this.values.set(k, v);
        } catch {
          process.stderr.write(`refract: skipped an unreadable line of ${this.file}\n`);
        }
      }
    }
    if (lines > 2 * this.values.size + 100) this.compact();
    this.journal = new AppendFile(this.file);
  }

  /** How many scopes have state. */
  get size(): number {
    return this.values.size;
  }

  /** A scope's state; not to be mutated (it goes to workers as a copy). */
  get(key: string): Record<string, unknown> | undefined {
    return this.values.get(key);
  }

  set(key: string, value: Record<string, unknown>): void {
    this.values.set(key, value);
    this.journal.appendText(JSON.stringify({ k: key, v: value }) + "\n");
  }

  flushed(): Promise<void> {
    return this.journal.flushed();
  }

  close(): Promise<void> {
    return this.journal.close();
  }

  private compact(): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, [...this.values].map(([k, v]) => JSON.stringify({ k, v }) + "\n").join(""));
    fs.renameSync(tmp, this.file);
  }
}

/** The scope keys of an execution's three persisted states. */
export function stateKeys(integrationId: string, instanceId: string, flowId: string) {
  return { instanceState: `instance:${instanceId}:${flowId}`, crossFlowState: `crossFlow:${instanceId}`, integrationState: `integration:${integrationId}` };
}
