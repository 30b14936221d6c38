// What the editor features need to know about an integration's source file, read with the
// TypeScript compiler's parser (no type checking, no regular expressions): its `flow({...})` calls
// and its `invokeFlow("...")` calls.

import type * as TS from "typescript";

/** A 0-based range, as LSP counts (UTF-16 code units, like TypeScript). */
export interface Span {
  start: number;
  end: number;
}

export interface SourceFlow {
  /** The whole `flow({...})` call. */
  call: Span;
  name: string | null;
  nameSpan: Span | null;
  stableKey: string | null;
  stableKeySpan: Span | null;
  /** A declared schedule (`schedule: { value, timezone }`); a config-variable schedule is checked per instance. */
  schedule: { value: string; timeZone: string | null; span: Span } | null;
}

export interface InvokeFlowCall {
  /** The flow name as written (the string literal's text). */
  name: string;
  /** The string literal, quotes included. */
  span: Span;
}

export interface SourceModel {
  flows: SourceFlow[];
  invokeFlows: InvokeFlowCall[];
}

/** Loaded on first use: only the language server needs the compiler (a large module). */
let ts: typeof TS | null = null;
function compiler(): typeof TS {
  ts ??= require("typescript") as typeof TS;
  return ts;
}

export function readSource(fileName: string, text: string): SourceModel {
  const t = compiler();
  const file = t.createSourceFile(fileName, text, t.ScriptTarget.Latest, true, fileName.endsWith(".js") ? t.ScriptKind.JS : t.ScriptKind.TS);
  const model: SourceModel = { flows: [], invokeFlows: [] };
  const span = (node: TS.Node): Span => ({ start: node.getStart(file), end: node.getEnd() });
  const stringOf = (node: TS.Node | undefined) => (node && (t.isStringLiteral(node) || t.isNoSubstitutionTemplateLiteral(node)) ? node : null);
  const visit = (node: TS.Node): void => {
    if (t.isCallExpression(node)) {
      const callee = node.expression;
      const name = t.isIdentifier(callee) ? callee.text : t.isPropertyAccessExpression(callee) ? callee.name.text : null;
      const [first] = node.arguments;
      if (name === "flow" && first && t.isObjectLiteralExpression(first)) model.flows.push(readFlow(t, first, span(node), span, stringOf));
      const literal = stringOf(first);
      if (name === "invokeFlow" && literal) model.invokeFlows.push({ name: literal.text, span: span(literal) });
    }
    t.forEachChild(node, visit);
  };
  visit(file);
  return model;
}

function readFlow(t: typeof TS, object: TS.ObjectLiteralExpression, call: Span, span: (n: TS.Node) => Span, stringOf: (n: TS.Node | undefined) => TS.StringLiteralLike | null): SourceFlow {
  const property = (o: TS.ObjectLiteralExpression, key: string) => {
    for (const p of o.properties) if (t.isPropertyAssignment(p) && (t.isIdentifier(p.name) || t.isStringLiteral(p.name)) && p.name.text === key) return p.initializer;
    return undefined;
  };
  const name = stringOf(property(object, "name"));
  const stableKey = stringOf(property(object, "stableKey"));
  const scheduleNode = property(object, "schedule");
  let schedule: SourceFlow["schedule"] = null;
  if (scheduleNode && t.isObjectLiteralExpression(scheduleNode)) {
    const value = stringOf(property(scheduleNode, "value"));
    if (value) schedule = { value: value.text, timeZone: stringOf(property(scheduleNode, "timezone"))?.text ?? null, span: span(value) };
  }
  return { call, name: name?.text ?? null, nameSpan: name ? span(name) : null, stableKey: stableKey?.text ?? null, stableKeySpan: stableKey ? span(stableKey) : null, schedule };
}

/** The invokeFlow call whose string literal holds the offset, if any (for completion). */
export function invokeFlowAt(model: SourceModel, offset: number): InvokeFlowCall | undefined {
  return model.invokeFlows.find((c) => offset > c.span.start && offset < c.span.end);
}
