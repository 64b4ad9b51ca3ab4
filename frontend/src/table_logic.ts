/**
 * The comparison table's logic: columns, filter, sort, groups. Pure, so it is unit-tested
 * without a browser; table_view.ts only turns its output into DOM.
 */

import { formatNumber, formatValue, percent, statusLabel, statusRank } from "./format";
import {
  CODE_EFFECTIVE_RANK,
  OUTPUT_VARIANCE_RATIO,
  RANK_K_ERROR,
  RELATIVE_ERROR,
} from "./signals";
import type { RunRow } from "./types";

export type SortValue = string | number | null;

export interface Column {
  key: string;
  title: string;
  value: (row: RunRow) => SortValue;
  text: (row: RunRow) => string;
}

const keySignal = (name: string) => (row: RunRow) => row.key_signals[name] ?? null;
const configValue = (name: string) => (row: RunRow) => {
  const value = row.config[name];
  return typeof value === "number" || typeof value === "string" ? value : null;
};

export function otherTags(row: RunRow): string {
  return Object.entries(row.tags)
    .filter(([key]) => key !== "team")
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
}

export function topCause(row: RunRow): string | null {
  return row.causes.length ? row.causes[0].id : null;
}

function numberColumn(key: string, title: string, value: (row: RunRow) => SortValue): Column {
  return { key, title, value, text: (row) => formatNumber(value(row) as number | null) };
}

export const COLUMNS: Column[] = [
  { key: "run", title: "Run", value: (r) => r.run, text: (r) => r.run },
  { key: "team", title: "Team", value: (r) => r.team, text: (r) => r.team ?? "–" },
  { key: "tags", title: "Other tags", value: otherTags, text: otherTags },
  {
    key: "status",
    title: "Status",
    value: (r) => statusRank(r.status),
    text: (r) => statusLabel(r.status),
  },
  {
    key: "cause",
    title: "Top cause",
    value: topCause,
    text: (r) => (r.causes.length ? `${r.causes[0].id} (${percent(r.causes[0].confidence)})` : "–"),
  },
  numberColumn("onset", "Onset step", (r) => r.since_step),
  numberColumn("spread", "Output var. ratio", keySignal(OUTPUT_VARIANCE_RATIO)),
  numberColumn("error", "Rel. error", keySignal(RELATIVE_ERROR)),
  numberColumn("rank_k", "Best rank-k error", keySignal(RANK_K_ERROR)),
  numberColumn("code_rank", "Code eff. rank", keySignal(CODE_EFFECTIVE_RANK)),
  {
    key: "optimizer",
    title: "Optimizer",
    value: configValue("optimizer"),
    text: (r) => formatValue(r.config.optimizer),
  },
  numberColumn("lr", "lr", configValue("lr")),
  numberColumn("weight_decay", "Weight decay", configValue("weight_decay")),
  numberColumn("latent_size", "Latent", configValue("latent_size")),
  {
    key: "last_step",
    title: "Last step",
    value: (r) => r.last_step,
    text: lastStepText,
  },
];

/** The last logged step, and the steps trained where the run went on past it. */
export function lastStepText(row: RunRow): string {
  if (row.last_step === null) return "–";
  const trained = row.trained?.steps;
  if (trained === undefined || trained <= row.last_step + 1) return String(row.last_step);
  return `${row.last_step} of ${trained}`;
}

export interface SortState {
  key: string;
  descending: boolean;
}

/** Missing values always sort last, whatever the direction. */
export function compareValues(a: SortValue, b: SortValue, descending: boolean): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  let order: number;
  if (typeof a === "number" && typeof b === "number") order = a - b;
  else order = String(a).localeCompare(String(b), undefined, { numeric: true });
  return descending ? -order : order;
}

export function sortRows(rows: RunRow[], sort: SortState): RunRow[] {
  const column = COLUMNS.find((c) => c.key === sort.key) ?? COLUMNS[0];
  return rows
    .map((row, index) => ({ row, index }))
    .sort(
      (x, y) =>
        compareValues(column.value(x.row), column.value(y.row), sort.descending) ||
        x.index - y.index,
    )
    .map((item) => item.row);
}

/**
 * Whitespace-separated terms, all of which must match. "key:value" matches a tag, the
 * status or the top cause ("team:vision", "status:collapsed", "cause:dead_relu"); a bare
 * word matches anywhere in the run's name, tags, status or causes. Case-insensitive.
 */
export function filterRows(rows: RunRow[], query: string): RunRow[] {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!terms.length) return rows;
  return rows.filter((row) => terms.every((term) => matches(row, term)));
}

function matches(row: RunRow, term: string): boolean {
  const colon = term.indexOf(":");
  if (colon > 0) {
    const key = term.slice(0, colon);
    const wanted = term.slice(colon + 1);
    const field =
      key === "status"
        ? `${row.status} ${statusLabel(row.status)}`
        : key === "cause"
          ? row.causes.map((c) => c.id).join(" ")
          : key === "run"
            ? row.run
            : (row.tags[key] ?? row.tags[Object.keys(row.tags).find((k) => k.toLowerCase() === key) ?? ""]);
    return field !== undefined && field.toLowerCase().includes(wanted);
  }
  const haystack = [
    row.run,
    row.status,
    statusLabel(row.status),
    ...Object.entries(row.tags).map(([k, v]) => `${k}=${v}`),
    ...row.causes.map((c) => c.id),
  ]
    .join(" ")
    .toLowerCase();
  return haystack.includes(term);
}

export type GroupBy = "team" | "folder" | "none";

export interface Group {
  name: string;
  rows: RunRow[];
  counts: Record<string, number>;
}

export const NO_TEAM = "(no team tag)";

export function groupName(row: RunRow, by: GroupBy): string {
  if (by === "team") return row.team ?? NO_TEAM;
  if (by === "folder") return row.path_group;
  return "all runs";
}

/** Groups in name order (the untagged group last); rows keep their sorted order. */
export function groupRows(rows: RunRow[], by: GroupBy): Group[] {
  const groups = new Map<string, Group>();
  for (const row of rows) {
    const name = groupName(row, by);
    let group = groups.get(name);
    if (!group) {
      group = { name, rows: [], counts: {} };
      groups.set(name, group);
    }
    group.rows.push(row);
    group.counts[row.status] = (group.counts[row.status] ?? 0) + 1;
  }
  return [...groups.values()].sort((a, b) =>
    a.name === NO_TEAM ? 1 : b.name === NO_TEAM ? -1 : a.name.localeCompare(b.name),
  );
}

/**
 * Rows drawn per group until the user asks for all of them: a table of thousands makes
 * every redraw (a click, a sort) slow, and the overview and the filter find a run faster.
 */
export const GROUP_ROWS = 200;

/** The rows of a group to draw: all when expanded, else the first ``limit`` and any
 * further row named in ``keep`` (the open run, the runs picked for a diff). */
export function rowsToDraw(
  rows: RunRow[], expanded: boolean, keep: string[], limit: number = GROUP_ROWS,
): { drawn: RunRow[]; hidden: number } {
  if (expanded || rows.length <= limit) return { drawn: rows, hidden: 0 };
  const drawn = rows.slice(0, limit);
  const wanted = new Set(keep);
  for (const row of rows.slice(limit)) if (wanted.has(row.run)) drawn.push(row);
  return { drawn, hidden: rows.length - drawn.length };
}

export function groupSummary(group: Group): string {
  const parts = [`${group.rows.length} run${group.rows.length === 1 ? "" : "s"}`];
  for (const status of ["collapsed", "at_risk", "healthy", "unknown"]) {
    if (group.counts[status]) parts.push(`${group.counts[status]} ${statusLabel(status)}`);
  }
  return parts.join(", ");
}

/** ``rows`` with the runs in ``removed`` gone and each row in ``changed`` put in (replacing
 * the run's old row, or added), in run-name order as the plugin lists them. */
export function mergeRunChanges(rows: RunRow[], changed: RunRow[], removed: string[]): RunRow[] {
  const gone = new Set(removed);
  const byName = new Map<string, RunRow>();
  for (const row of rows) if (!gone.has(row.run)) byName.set(row.run, row);
  for (const row of changed) byName.set(row.run, row);
  return [...byName.values()].sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : 0));
}
