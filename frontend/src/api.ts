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

export async function fetchRuns(): Promise<RunRow[]> {
  return (await getJson<{ runs: RunRow[] }>("runs")).runs;
}

export function fetchRun(run: string): Promise<RunDetail> {
  return getJson<RunDetail>(`run?run=${encodeURIComponent(run)}`);
}

export function fetchComparison(runs: string[]): Promise<Comparison> {
  const query = runs.map((run) => `run=${encodeURIComponent(run)}`).join("&");
  return getJson<Comparison>(`compare?${query}`);
}
