// Editor features on the integration's source: CodeLens above each flow (run, replay the last
// execution, how its runs went), diagnostics (build errors, duplicate flows, bad schedules,
// invokeFlow targets that do not exist, where the last execution of a flow failed), hover on a
// flow, and completion of flow names in invokeFlow("…").

import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { decode } from "@msgpack/msgpack";
import { CodeLens, CompletionItemKind, Connection, Diagnostic, DiagnosticSeverity, MarkupKind, TextDocuments } from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { sourceLocation } from "../runtime/loader";
import { nextRuns, scheduleError } from "../runtime/scheduler";
import type { Served } from "../serve";
import type { ExecutionRecord } from "../store/executions";
import { SourceFlow, SourceModel, Span, invokeFlowAt, readSource } from "./source";

/** Re-publishing diagnostics waits this long after the last change that asked for it. */
const DIAGNOSTICS_DELAY_MS = 200;

/** Wraps a request handler so that it answers only while the server is live (server.ts). */
export type Live = <A extends unknown[], R>(handler: (...args: A) => R) => (...args: A) => R;

export function editorFeatures(connection: Connection, documents: TextDocuments<TextDocument>, workspace: string, served: () => Served | null, live: Live): { refresh: () => void } {
  const models = new Map<string, { version: number; model: SourceModel }>();
  /** The source model of a file of the workspace folder; null for any other document (another project, an untitled one, a URI that names no file here). */
  const modelOf = (doc: TextDocument): SourceModel | null => {
    const cached = models.get(doc.uri);
    if (cached?.version === doc.version) return cached.model;
    const file = fileIn(workspace, doc.uri);
    if (file === null || typeof doc.getText() !== "string") return null;
    const model = readSource(file, doc.getText());
    models.set(doc.uri, { version: doc.version, model });
    return model;
  };
  const range = (doc: TextDocument, s: Span) => ({ start: doc.positionAt(s.start), end: doc.positionAt(s.end) });

  /** The current build's flows, by name: their ids, and this integration's executions of each on its system instance. */
  const flowsByName = () => {
    const runtime = served()?.runtime;
    const current = runtime?.integration;
    const out = new Map<string, { id: string; stableKey: string }>();
    for (const f of current?.definition.flows ?? []) out.set(f.name, { id: current!.meta.flowIds[f.stableKey], stableKey: f.stableKey });
    return out;
  };
  const runsOf = (flowId: string): ExecutionRecord[] => {
    const runtime = served()?.runtime;
    const system = runtime?.integration && runtime.instances.systemInstance(runtime.integration.meta.id);
    return system ? runtime.store.executionsOf(system.id).filter((x) => x.scope.flowId === flowId) : [];
  };

  connection.onCodeLens(live(({ textDocument }): CodeLens[] => {
    const doc = documents.get(textDocument.uri);
    const model = doc && modelOf(doc);
    if (!model) return [];
    const flows = flowsByName();
    return model.flows.flatMap((f) => {
      const known = f.name ? flows.get(f.name) : undefined;
      if (!known) return [];
      const at = range(doc, f.call);
      const lenses: CodeLens[] = [{ range: at, command: { title: "▶ Run", command: "refract.flow.trigger", arguments: [{ flowName: f.name }] } }];
      const runs = runsOf(known.id);
      const last = runs.at(-1);
      if (last) {
        const node = { kind: "execution", execution: { id: last.id, status: last.status, flow: { name: f.name } } };
        if (last.endedAt !== null) lenses.push({ range: at, command: { title: "↻ Replay last", command: "refract.execution.replay", arguments: [node] } });
        lenses.push({ range: at, command: { title: statusOf(runs), command: "refract.execution.openLogs", arguments: [node] } });
      }
      return lenses;
    });
  }));

  connection.onHover(live(({ textDocument, position }) => {
    const doc = documents.get(textDocument.uri);
    const runtime = served()?.runtime;
    if (!doc || !runtime?.integration) return null;
    const offset = doc.offsetAt(position);
    const f = modelOf(doc)?.flows.find((flow) => offset >= flow.call.start && offset <= (flow.nameSpan?.end ?? flow.call.start + 6));
    const known = f?.name ? flowsByName().get(f.name) : undefined;
    if (!f || !known) return null;
    const lines = [`**${f.name}** (flow \`${known.stableKey}\`)`, "", "Webhook URLs:"];
    for (const instance of runtime.instances.all.filter((i) => i.deployed || i.isSystem)) {
      const fc = runtime.instances.flowConfigOf(instance.id, known.id);
      if (fc) lines.push(`- ${instance.name}${instance.isSystem ? " (system instance)" : ""}: \`${runtime.webhookUrl(fc.id)}\``);
    }
    const system = runtime.instances.systemInstance(runtime.integration.meta.id);
    const def = runtime.flowById(known.id);
    const schedule = system && def ? runtime.lifecycle.scheduleOf(system, def).schedule : null;
    if (schedule) lines.push("", `Schedule \`${schedule.cron}\`${schedule.timeZone ? ` (${schedule.timeZone})` : ""}, next: ${nextRuns(schedule, 3).map((d) => d.toISOString()).join(", ")}`);
    const runs = runsOf(known.id).slice(-5).reverse();
    if (runs.length) lines.push("", "Last executions:", ...runs.map((x) => `- ${x.status} ${new Date(x.startedAt).toISOString()}${x.endedAt ? ` (${x.endedAt - x.startedAt} ms)` : ""}${x.error ? `: ${x.error}` : ""}`));
    return { contents: { kind: MarkupKind.Markdown, value: lines.join("\n") }, range: range(doc, f.nameSpan ?? f.call) };
  }));

  connection.onCompletion(live(({ textDocument, position }) => {
    const doc = documents.get(textDocument.uri);
    const model = doc && modelOf(doc);
    if (!model) return [];
    const call = invokeFlowAt(model, doc.offsetAt(position));
    if (!call) return [];
    const names = new Set([...flowsByName().keys(), ...model.flows.flatMap((f) => (f.name ? [f.name] : []))]);
    const replace = { start: doc.positionAt(call.span.start + 1), end: doc.positionAt(Math.max(call.span.start + 1, call.span.end - 1)) };
    return [...names].map((name) => ({ label: name, kind: CompletionItemKind.Value, textEdit: { range: replace, newText: name } }));
  }));

  // ---------------------------------------------------------------- diagnostics
  /** Files that have diagnostics published, so that fixed ones are cleared. */
  let published = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  const refresh = () => {
    timer ??= setTimeout(() => {
      timer = null;
      // A document or a stored result that cannot be read costs its diagnostics, never the server.
      publish().catch((err) => connection.console.error(`Refract diagnostics failed: ${(err as Error)?.stack ?? err}`));
    }, DIAGNOSTICS_DELAY_MS);
  };

  async function publish(): Promise<void> {
    const byUri = new Map<string, Diagnostic[]>();
    const add = (uri: string, d: Diagnostic) => (byUri.get(uri) ?? byUri.set(uri, []).get(uri)!).push(d);
    const flows = flowsByName();
    for (const doc of documents.all()) {
      const model = modelOf(doc);
      if (!model || (!model.flows.length && !model.invokeFlows.length)) continue;
      byUri.set(doc.uri, []);
      for (const d of sourceDiagnostics(doc, model, flows)) add(doc.uri, d);
    }
    const runtime = served()?.runtime;
    const build = runtime?.build;
    const at = build && !build.ok && build.error ? /^([^\n:]+):(\d+):(\d+): ([^\n]*)/.exec(build.error) : null;
    if (at) {
      const line = Number(at[2]) - 1;
      const character = Number(at[3]) - 1;
      add(uriOf(workspace, at[1]), { range: { start: { line, character }, end: { line, character: character + 1 } }, severity: DiagnosticSeverity.Error, source: "refract", message: `Build failed: ${at[4]}` });
    }
    for (const [name, { id }] of flows) {
      const last = runsOf(id).filter((x) => x.endedAt !== null).at(-1);
      if (last?.status !== "ERROR") continue;
      const failure = await failureLocation(last);
      if (failure) add(uriOf(workspace, failure.file), { range: { start: { line: failure.line, character: failure.character }, end: { line: failure.line, character: failure.character + 1 } }, severity: DiagnosticSeverity.Warning, source: "refract", message: `The last execution of flow "${name}" failed here: ${last.error}` });
    }
    for (const uri of published) if (!byUri.has(uri)) byUri.set(uri, []);
    published = new Set([...byUri].filter(([, list]) => list.length).map(([uri]) => uri));
    for (const [uri, diagnostics] of byUri) void connection.sendDiagnostics({ uri, diagnostics });
  }

  /** Where a failed execution's error was thrown in the integration's source, from its failed step's mapped stack. */
  async function failureLocation(x: ExecutionRecord): Promise<{ file: string; line: number; character: number } | null> {
    const step = x.steps.find((s) => s.hasError);
    const runtime = served()?.runtime;
    const bytes = step && runtime && (await runtime.store.readStepResult(x, step));
    if (!bytes) return null;
    let data: unknown;
    try {
      ({ data } = decode(bytes) as { data: unknown });
    } catch {
      return null; // a damaged result: no location
    }
    const result = typeof data === "string" ? safeJson(data) : data;
    const stack = (result as { stack?: unknown } | null)?.stack;
    const where = typeof stack === "string" ? sourceLocation(workspace, stack) : null;
    const m = where && /^(.*):(\d+):(\d+)$/.exec(where);
    return m ? { file: m[1], line: Number(m[2]) - 1, character: Number(m[3]) - 1 } : null;
  }

  documents.onDidChangeContent(refresh);
  documents.onDidClose(({ document }) => {
    models.delete(document.uri);
    refresh();
  });
  return { refresh };
}

function sourceDiagnostics(doc: TextDocument, model: SourceModel, flows: Map<string, unknown>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const range = (s: Span) => ({ start: doc.positionAt(s.start), end: doc.positionAt(s.end) });
  const seen = { name: new Map<string, SourceFlow>(), stableKey: new Map<string, SourceFlow>() };
  for (const f of model.flows) {
    for (const key of ["name", "stableKey"] as const) {
      const value = f[key];
      const span = key === "name" ? f.nameSpan : f.stableKeySpan;
      if (value === null || !span) continue;
      if (seen[key].has(value)) out.push({ range: range(span), severity: DiagnosticSeverity.Error, source: "refract", message: `Another flow already has the ${key === "name" ? "name" : "stable key"} "${value}"` });
      else seen[key].set(value, f);
    }
    if (f.schedule) {
      const problem = scheduleError({ cron: f.schedule.value, timeZone: f.schedule.timeZone });
      if (problem) out.push({ range: range(f.schedule.span), severity: DiagnosticSeverity.Error, source: "refract", message: `This schedule has an ${problem}` });
    }
  }
  const names = new Set([...flows.keys(), ...seen.name.keys()]);
  for (const call of model.invokeFlows) {
    if (!names.has(call.name)) out.push({ range: range(call.span), severity: DiagnosticSeverity.Error, source: "refract", message: `invokeFlow("${call.name}"): this integration has no flow named "${call.name}" (its flows: ${flowList(names)})` });
  }
  return out;
}

/** "✓ 12 runs · last 2 min ago · 140 ms", or "✗ last run failed: <message>". */
function statusOf(runs: ExecutionRecord[]): string {
  const last = runs.at(-1)!;
  if (last.status === "ERROR") return `✗ last run failed: ${(last.error ?? "").split("\n")[0].slice(0, 80)}`;
  if (last.endedAt === null) return `⋯ ${runs.length} runs · running`;
  if (last.status !== "SUCCESS") return `⊘ last run ${last.status.toLowerCase()}`;
  const ago = Math.round((Date.now() - last.startedAt) / 60_000);
  return `✓ ${runs.length} run${runs.length === 1 ? "" : "s"} · last ${ago < 1 ? "just now" : `${ago} min ago`} · ${last.endedAt - last.startedAt} ms`;
}

/** The path of a `file:` URI inside the workspace folder; null for any other URI. */
function fileIn(workspace: string, uri: string): string | null {
  let file: string;
  try {
    file = fileURLToPath(uri);
  } catch {
    return null; // not a file URI, another host, an encoded slash
  }
  const relative = path.relative(workspace, file);
  return relative && relative.split(path.sep)[0] !== ".." && !path.isAbsolute(relative) ? file : null;
}

function uriOf(workspace: string, file: string): string {
  return pathToFileURL(path.resolve(workspace, file)).href;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Flow names for a message, the first few: a message per call that listed them all grew with the square of a file's size. */
function flowList(names: Set<string>): string {
  const shown = [...names].slice(0, 10).map((n) => `"${n}"`);
  return names.size > shown.length ? `${shown.join(", ")} and ${names.size - shown.length} more` : shown.join(", ");
}
