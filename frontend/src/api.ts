/** The plugin's routes, by relative URL (the page's <base> points at the plugin's root). */

import { mergeRunChanges } from "./table_logic";
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

/** Every run, and the listing the plugin made of them (to poll for what changed since). */
export interface RunList {
  rows: RunRow[];
  listing: string;
}

interface RunChanges {
  since: string;
  listing: string;
  changed: RunRow[];
  removed: string[];
  total: number;
}

/** Tries at a whole list before giving up: a listing replaced while it was paged restarts. */
const LISTING_TRIES = 3;

/**
 * Every run, page by page, all pages cut from one listing (the first answer names it);
 * ``onPage`` sees the rows so far and the total after each page but the last.
 */
export async function fetchRuns(
  onPage?: (rows: RunRow[], total: number) => void,
): Promise<RunList> {
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
      if (!page.runs.length || rows.length >= page.total) return { rows, listing: page.listing };
      onPage?.(rows.slice(), page.total);
    }
    if (attempt >= LISTING_TRIES) throw new Error("the run list kept changing while it was read");
  }
}

/**
 * The list again as what changed since ``held`` (new and changed rows, runs gone): a poll
 * of thousands of finished runs moves a few rows. Null where the plugin no longer keeps
 * that listing, or the merge does not add up to its total: then read the list anew.
 */
export async function fetchRunsSince(held: RunList): Promise<RunList | null> {
  const answer = await getJson<RunChanges | RunsPage>(
    `runs?since=${encodeURIComponent(held.listing)}`,
  );
  if (!("since" in answer) || answer.since !== held.listing) return null;
  const rows = mergeRunChanges(held.rows, answer.changed, answer.removed);
  return rows.length === answer.total ? { rows, listing: answer.listing } : null;
}

export function fetchRun(run: string): Promise<RunDetail> {
  return getJson<RunDetail>(`run?run=${encodeURIComponent(run)}`);
}

export function fetchComparison(runs: string[]): Promise<Comparison> {
  const query = runs.map((run) => `run=${encodeURIComponent(run)}`).join("&");
  return getJson<Comparison>(`compare?${query}`);
}
