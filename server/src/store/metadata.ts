import * as fs from "node:fs";
import * as path from "node:path";
import { LowSync } from "lowdb";
import { JSONFileSync } from "lowdb/node";

export interface Customer {
  id: string;
  name: string;
  externalId: string | null;
  description: string;
  isSystem: boolean;
  labels?: string[];
  createdAt: string;
  updatedAt?: string;
}

export interface Instance {
  id: string;
  name: string;
  integrationId: string;
  customerId: string;
  /** The system instance of its integration (Prismatic's test instance). */
  isSystem: boolean;
  /** Config variable values by key, as Prismatic stores them: strings (JSON for lists). */
  configValues: Record<string, string>;
  enabled: boolean;
  deployed: boolean;
  /** Why the last deploy failed, while undeployed. */
  deployError: string | null;
  deployedVersion: number | null;
  lastDeployedAt: string | null;
  /** Config changed since the last deploy. */
  needsDeploy: boolean;
  description?: string;
  labels?: string[];
  createdAt: string;
  updatedAt?: string;
}

export interface FlowConfig {
  /** Also the webhook id: `/trigger/<id>`. Relay id of a random uuid, so unguessable. */
  id: string;
  instanceId: string;
  flowId: string;
  /** Keys accepted in the `Api-Key` header when the flow requires one (generated at deploy). */
  apiKeys: string[];
}

export interface IntegrationMeta {
  id: string;
  /** The integration's folder, relative to the workspace: its identity across restarts. */
  root: string;
  name: string;
  /** The latest build's number; the next good build gets one more. */
  versionNumber: number;
  /** When that build was made (ISO); absent in metadata written before it was kept. */
  versionCreatedAt?: string;
  /** Flow ids by stableKey, so ids survive rebuilds and restarts. */
  flowIds: Record<string, string>;
}

interface Data {
  customers: Customer[];
  instances: Instance[];
  flowConfigs: FlowConfig[];
  integrations: IntegrationMeta[];
}

export class MetadataError extends Error {}

/**
 * Small, rarely written metadata in one JSON file (lowdb). Every change is written at once; a
 * write rewrites the whole file, which is fine at this size (perf-notes: 4 ms at 1k records).
 */
export class Metadata {
  private readonly db: LowSync<Data>;

  constructor(dataDir: string) {
    // Refuse to start rather than overwrite what may be the user's only copy.
    const file = path.join(dataDir, "metadata.json");
    const adapter = new JSONFileSync<Data>(file);
    let read: Data | null;
    try {
      read = adapter.read();
    } catch (err) {
      throw new MetadataError(`${file} cannot be read (${(err as Error).message}); repair it or move it away`);
    }
    // lowdb reads a file holding `null` as no file at all.
    const problem = read === null ? (fs.existsSync(file) ? "it is not an object" : null) : shapeProblem(read);
    if (problem) throw new MetadataError(`${file} does not hold Refract's metadata (${problem}); repair it or move it away`);
    this.db = new LowSync<Data>(adapter, read ?? { customers: [], instances: [], flowConfigs: [], integrations: [] });
  }

  get data(): Readonly<Data> {
    return this.db.data;
  }

  /** Applies a change to the data and writes it. */
  change<T>(fn: (data: Data) => T): T {
    const result = fn(this.db.data);
    this.db.write();
    return result;
  }
}

/**
 * The fields every record has had since the first version, and their types: a record without
 * them would start the server on made-up ids (a second system instance, new webhook URLs).
 */
const FIELDS: Record<keyof Data, Record<string, "string" | "number" | "boolean" | "object">> = {
  customers: { id: "string", name: "string", isSystem: "boolean" },
  instances: { id: "string", name: "string", integrationId: "string", customerId: "string", isSystem: "boolean", configValues: "object", enabled: "boolean", deployed: "boolean" },
  flowConfigs: { id: "string", instanceId: "string", flowId: "string", apiKeys: "object" },
  integrations: { id: "string", root: "string", name: "string", versionNumber: "number", flowIds: "object" },
};

/** What is wrong with the shape of parsed metadata, if anything. */
function shapeProblem(value: unknown): string | null {
  if (!value || typeof value !== "object" || Array.isArray(value)) return "it is not an object";
  const data = value as Record<string, unknown>;
  for (const [key, fields] of Object.entries(FIELDS)) {
    const list = data[key];
    if (!Array.isArray(list)) return `${key} is not a list`;
    for (const [i, record] of list.entries()) {
      if (!record || typeof record !== "object") return `${key}[${i}] is not a record`;
      for (const [field, type] of Object.entries(fields)) {
        if (typeof record[field] !== type || record[field] === null) return `${key}[${i}].${field} is not a ${type}`;
      }
    }
  }
  return null;
}
