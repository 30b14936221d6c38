import * as vscode from "vscode";
import type { Settings } from "../../protocol/lsp";

const KEYS: Array<keyof Settings> = ["port", "host", "dataDir", "retentionDays", "executionTimeoutS", "memoryLimitMb", "maxConcurrency", "entry"];

/** The `refract.*` settings the user set (the server checks them and uses its defaults for the rest). */
export function settings(): Settings {
  const config = vscode.workspace.getConfiguration("refract");
  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const inspected = config.inspect(key);
    const value = inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
    if (value !== undefined) out[key] = value;
  }
  return out as Settings;
}
