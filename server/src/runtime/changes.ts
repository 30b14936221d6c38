import type { ExecutionChange } from "../../../protocol/lsp";
import type { ExecutionRecord, ExecutionStore } from "../store/executions";

/** Execution changes go out at most this often, each execution once in its latest state. */
const CHANGES_INTERVAL_MS = 100;

/**
 * Calls `send` with the executions that changed (queued, started, a step finished, log lines
 * written, ended) since the last call, at most every 100 ms: what the language server notifies
 * and `/events` streams. Returns the unsubscribe.
 */
export function watchExecutions(store: ExecutionStore, send: (changes: ExecutionChange[]) => void): () => void {
  const pending = new Map<string, { x: ExecutionRecord; logged: boolean }>();
  let timer: NodeJS.Timeout | null = null;
  const onChange = (x: ExecutionRecord, logged: boolean) => {
    const seen = pending.get(x.id);
    if (seen) seen.logged ||= logged;
    else pending.set(x.id, { x, logged });
    timer ??= setTimeout(() => {
      timer = null;
      const changes = [...pending.values()].map(({ x, logged }) => executionChange(x, logged));
      pending.clear();
      send(changes);
    }, CHANGES_INTERVAL_MS);
  };
  store.changes.on("change", onChange);
  return () => {
    store.changes.off("change", onChange);
    if (timer) clearTimeout(timer);
  };
}

function executionChange(x: ExecutionRecord, logged: boolean): ExecutionChange {
  return {
    id: x.id,
    status: x.status,
    invokeType: x.invokeType,
    flowId: x.scope.flowId,
    flowName: x.scope.flowName,
    instanceId: x.scope.instanceId,
    customerId: x.scope.customerId,
    startedAt: new Date(x.startedAt).toISOString(),
    endedAt: x.endedAt === null ? null : new Date(x.endedAt).toISOString(),
    error: x.error,
    stepCount: x.stepCount,
    logged,
  };
}
