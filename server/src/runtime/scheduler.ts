import { Cron } from "croner";

/** A flow's schedule as it runs for one instance: its cron expression and IANA time zone. */
export interface Schedule {
  cron: string;
  /** IANA name; null runs it in UTC, as Prismatic does for schedules without one. */
  timeZone: string | null;
}

/**
 * Why a schedule cannot run, in words for the user, or null when it can. Five fields, or six with
 * seconds first (so that local tests need not wait minutes); time zones by IANA name.
 */
export function scheduleError(s: Schedule): string | null {
  const fields = s.cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return `invalid cron expression "${s.cron}": it has ${fields} fields, not 5 (or 6 with seconds first)`;
  if (s.timeZone) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: s.timeZone });
    } catch {
      return `invalid time zone "${s.timeZone}": not an IANA time zone name such as "America/New_York"`;
    }
  }
  let never: boolean;
  try {
    const cron = new Cron(s.cron.trim(), { timezone: s.timeZone ?? "UTC", paused: true });
    never = cron.nextRun() === null;
    cron.stop();
  } catch (err) {
    return `invalid cron expression "${s.cron}": ${(err as Error).message.replace(/^CronPattern: /, "")}`;
  }
  // A day no month has (30 February, 31 April) is a valid pattern that would arm a timer for nothing.
  return never ? `invalid cron expression "${s.cron}": it never fires (no such date)` : null;
}

/** The next `count` times a schedule fires after `from`. */
export function nextRuns(s: Schedule, count: number, from = new Date()): Date[] {
  if (scheduleError(s)) return [];
  const cron = new Cron(s.cron.trim(), { timezone: s.timeZone ?? "UTC", paused: true });
  const runs = cron.nextRuns(count, from);
  cron.stop();
  return runs;
}

/**
 * The timers of every scheduled flow of every instance, keyed by instance and flow. `set` is
 * idempotent: callers hand it what should run now (after a deploy, an enable or disable, a
 * config change, a build) and it starts, restarts and stops timers to match. Runs missed while
 * the server was down are not caught up.
 */
export class Scheduler {
  private readonly timers = new Map<string, { instanceId: string; spec: string; cron: Cron }>();

  constructor(private readonly fire: (instanceId: string, flowId: string) => void) {}

  /** Exactly these schedules run for the instance (by flow id); invalid ones are skipped. */
  set(instanceId: string, schedules: Map<string, Schedule>): void {
    for (const [key, t] of this.timers) {
      if (t.instanceId !== instanceId) continue;
      const flowId = key.slice(instanceId.length + 1);
      const wanted = schedules.get(flowId);
      if (!wanted || specOf(wanted) !== t.spec) {
        t.cron.stop();
        this.timers.delete(key);
      }
    }
    for (const [flowId, s] of schedules) {
      const key = `${instanceId}/${flowId}`;
      if (this.timers.has(key) || scheduleError(s)) continue;
      const cron = new Cron(s.cron.trim(), { timezone: s.timeZone ?? "UTC", unref: true }, () => this.fire(instanceId, flowId));
      this.timers.set(key, { instanceId, spec: specOf(s), cron });
    }
  }

  /** When each of an instance's flows fires next, for display. */
  nextRun(instanceId: string, flowId: string): Date | null {
    return this.timers.get(`${instanceId}/${flowId}`)?.cron.nextRun() ?? null;
  }

  armed(instanceId: string): string[] {
    return [...this.timers.keys()].filter((k) => k.startsWith(`${instanceId}/`)).map((k) => k.slice(instanceId.length + 1));
  }

  stop(): void {
    for (const t of this.timers.values()) t.cron.stop();
    this.timers.clear();
  }
}

const specOf = (s: Schedule) => `${s.cron.trim()}|${s.timeZone ?? "UTC"}`;
