import { decode } from "@msgpack/msgpack";
import * as vscode from "vscode";
import { ExecutionLogs, ExecutionSteps, LogLine } from "../../protocol/prismatic-api/operations";
import type { Ctx } from "./ctx";

/**
 * Read-only documents for step results and logs, under `refract:` URIs:
 * `refract:/executions/<id>/<stepName>.json` (the step's `data`, pretty JSON; text as it is;
 * binary as its size) and `refract:/executions/<id>/logs.log` (one line per log line).
 */
export class ExecutionDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = "refract";

  constructor(private readonly ctx: Ctx) {}

  static stepUri(executionId: string, stepName: string): vscode.Uri {
    return vscode.Uri.from({ scheme: ExecutionDocuments.scheme, path: `/executions/${encodeURIComponent(executionId)}/${stepName}.json` });
  }

  static logsUri(executionId: string): vscode.Uri {
    return vscode.Uri.from({ scheme: ExecutionDocuments.scheme, path: `/executions/${encodeURIComponent(executionId)}/logs.log` });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const [, kind, rawId, file] = uri.path.split("/");
    const id = decodeURIComponent(rawId ?? "");
    if (kind !== "executions" || !file) throw new Error(`Not a Refract document: ${uri.toString()}`);
    const api = await this.ctx.api();
    if (file === "logs.log") {
      const lines: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: { logs: { edges: Array<{ node: LogLine }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await api.request(ExecutionLogs, { executionResult: id, after, first: 1000 });
        const { logs } = page;
        for (const { node } of logs.edges) lines.push(`${node.timestamp} ${node.severity.padEnd(6)} ${node.stepName ? `[${node.stepName}] ` : ""}${node.message}`);
        if (!logs.pageInfo.hasNextPage) break;
        after = logs.pageInfo.endCursor;
      }
      return lines.join("\n") + "\n";
    }
    const stepName = file.replace(/\.json$/, "");
    const { executionResult } = await api.request(ExecutionSteps, { id });
    const step = executionResult?.stepResults.nodes.find((s) => s.stepName === stepName);
    if (!step) return `Execution ${id} has no ${stepName} step result (yet).\n`;
    const response = await fetch(step.resultsUrl);
    if (!response.ok) throw new Error(`The step result could not be fetched: HTTP ${response.status}`);
    const { data, contentType } = decode(new Uint8Array(await response.arrayBuffer())) as { data: unknown; contentType?: string };
    return render(data, contentType);
  }
}

/** A step's data as text: JSON pretty-printed, text as it is, bytes as their size and type. */
function render(data: unknown, contentType = ""): string {
  if (data instanceof Uint8Array) return `<${data.byteLength} bytes of ${contentType || "binary data"}>\n`;
  if (typeof data === "string" && /json/.test(contentType)) {
    try {
      return JSON.stringify(JSON.parse(data), null, 2) + "\n";
    } catch {
      return data;
    }
  }
  return typeof data === "string" ? data : JSON.stringify(data, null, 2) + "\n";
}
