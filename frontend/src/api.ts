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

interface RunsPage {
  runs: RunRow[];
  total: number;
  listing: string;
}

/** Tries at a whole list before giving up: a listing replaced while it was paged restarts. */
const LISTING_TRIES = 3;

/**
 * Every run, page by page, all pages cut from one listing (the first answer names it);
 * ``onPage`` sees the rows so far and the total after each page but the last.
 */
export async function fetchRuns(
  onPage?: (rows: RunRow[], total: number) => void,
): Promise<RunRow[]> {
  for (let attempt = 1; ; attempt++) {
    const rows: RunRow[] = [];
    let listing: string | null = null;
    for (;;) {
      const from: string = listing === null ? "" : `&listing=${encodeURIComponent(listing)}`;
      const page: RunsPage = await getJson<RunsPage>(
        `runs?offset=${rows.length}&limit=${RUNS_PAGE}${from}`,
      );
      if (listing !== null && page.listing !== listing) break;  // replaced: start over
      listing = page.listing;
      rows.push(...page.runs);
      if (!page.runs.length || rows.length >= page.total) return rows;
      onPage?.(rows.slice(), page.total);
    }
    if (attempt >= LISTING_TRIES) throw new Error("the run list kept changing while it was read");
  }
}

export function fetchRun(run: string): Promise<RunDetail> {
  return getJson<RunDetail>(`run?run=${encodeURIComponent(run)}`);
}

export function fetchComparison(runs: string[]): Promise<Comparison> {
  const query = runs.map((run) => `run=${encodeURIComponent(run)}`).join("&");
  return getJson<Comparison>(`compare?${query}`);
}
