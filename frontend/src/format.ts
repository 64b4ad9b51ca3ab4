/** Numbers and labels as the user reads them. Pure: unit-tested without a DOM. */

import type { RunRow, Status } from "./types";

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return "0";
  const size = Math.abs(value);
  if (size >= 1e4 || size < 1e-3) return value.toExponential(1);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(3)));
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

const STATUS_LABELS: Record<Status, string> = {
  healthy: "healthy",
  at_risk: "at risk",
  collapsed: "collapsed",
  unknown: "unknown",
};

export function statusLabel(status: string): string {
  return STATUS_LABELS[status as Status] ?? status;
}

/** Severity for sorting: collapsed first when sorting by status descending. */
export function statusRank(status: string): number {
  return { healthy: 0, unknown: 1, at_risk: 2, collapsed: 3 }[status] ?? 1;
}

export function causeLabel(id: string): string {
  return id.replace(/_/g, " ");
}

export function percent(confidence: number): string {
  return `${Math.round(confidence * 100)}%`;
}

/** What close() recorded: steps trained and logged (how many of those measured the
 * headline alone), when the end was measured, what logging cost, in seconds and as a share
 * of the run's time, and whether an older version's cadence thinned it. */
export function trainedText(row: RunRow): string | null {
  const trained = row.trained;
  if (!trained) return null;
  let text = `Trained ${trained.steps} steps, ${trained.logging_steps} of them logged`;
  if (trained.headline_only) {
    text += ` (${trained.headline_only} of those the error and spread only, within the budget)`;
  }
  text +=
    trained.final_step === undefined
      ? "; the end was not measured (no training forward to replay)."
      : `; the end measured at step ${trained.final_step}.`;
  const share = `${(trained.logging_overhead * 100).toFixed(1)}% of the run's time`;
  text +=
    trained.logging_seconds === undefined
      ? ` aelog's logging took ${share}.`
      : ` aelog's logging took ${formatSeconds(trained.logging_seconds)} (${share}).`;
  if (trained.thinned) {
    const points = trained.thinned === 1 ? "1 point" : `${trained.thinned} points`;
    text += ` Logging was thinned to stay within its budget (${points} skipped).`;
  }
  return text;
}

export function formatSeconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(2)} s` : `${seconds.toFixed(0)} s`;
}

/** Notes that explain a verdict with no cause ranked (the cause is outside the 15, the run
 * was too short, the evidence too weak): shown in the card's place of a cause, not among
 * the limits. The engine starts them with these words. */
const VERDICT_NOTE_STARTS = ["cause not among the 15", "too short to judge", "cause uncertain"];

export function verdictNotes(notes: string[]): string[] {
  return notes.filter((n) => VERDICT_NOTE_STARTS.some((start) => n.startsWith(start)));
}
