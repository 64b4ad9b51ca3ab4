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

/** What close() recorded: steps trained, how many logged, aelog's share of the time. */
export function trainedText(row: RunRow): string | null {
  const trained = row.trained;
  if (!trained) return null;
  let text =
    `Trained ${trained.steps} steps, ${trained.logging_steps} of them logged; aelog's ` +
    `logging took ${(trained.logging_overhead * 100).toFixed(1)}% of the run's time.`;
  if (trained.logging_steps < trained.steps) {
    text +=
      " The first 100 steps are logged densely, later ones spaced out to keep to the budget;" +
      " log_every=N logs more.";
  }
  return text;
}
