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

/** Decades spanned by the lines' positive finite values (0 when fewer than two). */
export function decadesSpanned(lines: Line[]): number {
  const values = lines
    .flatMap((l) => l.series?.values ?? [])
    .filter((v): v is number => v !== null && Number.isFinite(v) && v > 0);
  if (values.length < 2) return 0;
  return Math.log10(Math.max(...values) / Math.min(...values));
}

/** A log y axis reads an error that falls by more than three decades; linear otherwise. */
export function wantsLogAxis(lines: Line[]): boolean {
  return decadesSpanned(lines) > 3;
}

/** On a log axis, values that are not positive have no place: gaps, not a broken scale. */
export function forLogAxis(columns: (number | null)[][]): (number | null)[][] {
  return columns.map((column, i) =>
    i === 0 ? column : column.map((v) => (v !== null && v > 0 ? v : null)),
  );
}

/** Pixels a y axis needs for its widest tick label, so no label is clipped. */
export function axisWidth(labels: string[], charPixels = 7, padding = 18): number {
  const widest = labels.reduce((most, label) => Math.max(most, label.length), 0);
  return Math.max(40, Math.ceil(widest * charPixels + padding));
}

/** The x range of a run's charts: from its first point to the run's end (the steps it
 * trained, when known), so a chart never stops short of the end it describes. */
export function stepRange(columns: (number | null)[][], trainedSteps: number | null
): [number, number] {
  const steps = columns[0] as number[];
  const first = steps.length ? steps[0] : 0;
  const last = Math.max(steps.length ? steps[steps.length - 1] : 0, trainedSteps ?? 0);
  return [first, last > first ? last : first + 1];
}
