/** Chart data shaping, apart from uPlot so it is unit-tested without a browser. */

import type { SeriesJson } from "./types";

export interface Line {
  label: string;
  series: SeriesJson | undefined;
  dashed?: boolean;
}

/** All lines on one x axis: the union of their steps, null where a line has no point. */
export function alignLines(lines: Line[]): (number | null)[][] {
  const steps = [...new Set(lines.flatMap((l) => l.series?.steps ?? []))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const columns: (number | null)[][] = [steps];
  for (const line of lines) {
    const column = new Array<number | null>(steps.length).fill(null);
    const series = line.series;
    if (series) series.steps.forEach((s, i) => (column[index.get(s)!] = series.values[i]));
    columns.push(column);
  }
  return columns;
}
