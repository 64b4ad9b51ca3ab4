/** The plugin's routes, by relative URL (the page's <base> points at the plugin's root). */

import type { Comparison, RunDetail, RunRow } from "./types";

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const message = (await response.text()).trim();
    throw new Error(`${path.split("?")[0]}: ${response.status} ${message}`);
  }
  return (await response.json()) as T;
}

/** Runs per request: a logdir of thousands comes in pages, the first drawn at once. */
export const RUNS_PAGE = 1000;

/** Every run, page by page; ``onPage`` sees the rows so far and the total after each. */
export async function fetchRuns(
  onPage?: (rows: RunRow[], total: number) => void,
): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  for (;;) {
    const page = await getJson<{ runs: RunRow[]; total: number }>(
      `runs?offset=${rows.length}&limit=${RUNS_PAGE}`,
    );
    rows.push(...page.runs);
    if (!page.runs.length || rows.length >= page.total) return rows;
    onPage?.(rows.slice(), page.total);
  }
}

export function fetchRun(run: string): Promise<RunDetail> {
  return getJson<RunDetail>(`run?run=${encodeURIComponent(run)}`);
}

export function fetchComparison(runs: string[]): Promise<Comparison> {
  const query = runs.map((run) => `run=${encodeURIComponent(run)}`).join("&");
  return getJson<Comparison>(`compare?${query}`);
}
