/**
 * The cross-team overview above the table: per group (team tag or first folder) how many
 * runs are healthy, at risk and collapsed, and the most frequent top causes, each with the
 * filter that lists its runs. Pure, so it is unit-tested without a browser.
 */

import { type GroupBy, NO_TEAM, groupRows } from "./table_logic";
import type { RunRow } from "./types";

export const NO_CAUSE = "no cause among the 15";
export const CAUSES_SHOWN = 3;

export interface CauseCount {
  id: string;
  count: number;
  /** what the filter box gets to list these runs */
  filter: string;
}

export interface TeamOverview {
  name: string;
  runs: number;
  counts: Record<string, number>;
  filter: string;
  causes: CauseCount[];
  /** causes beyond CAUSES_SHOWN, counted */
  moreCauses: number;
}

/** The filter term that selects a group's runs ("" where no term can: no team tag). */
export function groupFilter(name: string, by: GroupBy): string {
  if (by === "none" || name === NO_TEAM) return "";
  const value = name.includes(" ") ? "" : name;
  if (!value) return "";
  return by === "team" ? `team:${value}` : `run:${value}/`;
}

export function teamOverview(rows: RunRow[], by: GroupBy): TeamOverview[] {
  return groupRows(rows, by).map((group) => {
    const filter = groupFilter(group.name, by);
    const byCause = new Map<string, number>();
    for (const row of group.rows) {
      if (row.status === "healthy" || row.status === "unknown") continue;
      const id = row.causes[0]?.id ?? NO_CAUSE;
      byCause.set(id, (byCause.get(id) ?? 0) + 1);
    }
    const ranked = [...byCause.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const causes = ranked.slice(0, CAUSES_SHOWN).map(([id, count]) => ({
      id,
      count,
      filter: [filter, id === NO_CAUSE ? "" : `cause:${id}`].filter(Boolean).join(" "),
    }));
    return {
      name: group.name,
      runs: group.rows.length,
      counts: group.counts,
      filter,
      causes,
      moreCauses: Math.max(0, ranked.length - CAUSES_SHOWN),
    };
  });
}
