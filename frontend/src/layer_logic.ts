/**
 * The per-layer view's logic: steps binned into columns, values mapped to "how bad"
 * (0 fine .. 1 bad) per signal, and which layers are dying. Pure and unit-tested.
 */

import {
  LAYER_DEAD_FRACTION,
  LAYER_GRAD_NORM,
  LAYER_SATURATED_FRACTION,
  LAYER_UPDATE_RATIO,
} from "./signals";
import type { SeriesJson } from "./types";

export interface LayerSignal {
  name: string;
  title: string;
  /** how bad a value is, 0 (fine) .. 1 (bad), given the spread over all layers. */
  badness: (value: number, scale: Scale) => number;
  logScale: boolean;
}

export interface Scale {
  low: number;
  high: number;
}

const fraction = (value: number) => Math.min(1, Math.max(0, value));

/** A vanishing gradient or update is the bad end: a layer that stopped learning. */
function vanishing(value: number, scale: Scale): number {
  if (!(value > 0)) return 1;
  const position = (Math.log10(value) - scale.low) / Math.max(scale.high - scale.low, 1e-9);
  return fraction(1 - position);
}

export const LAYER_SIGNALS: LayerSignal[] = [
  { name: LAYER_DEAD_FRACTION, title: "Dead fraction", badness: fraction, logScale: false },
  {
    name: LAYER_SATURATED_FRACTION,
    title: "Saturated fraction",
    badness: fraction,
    logScale: false,
  },
  { name: LAYER_GRAD_NORM, title: "Gradient norm (log)", badness: vanishing, logScale: true },
  { name: LAYER_UPDATE_RATIO, title: "Update ratio (log)", badness: vanishing, logScale: true },
];

/** log10 range of the positive values of all layers (for log-scaled signals). */
export function logScale(series: (SeriesJson | undefined)[]): Scale {
  let low = Infinity;
  let high = -Infinity;
  for (const s of series) {
    for (const v of s?.values ?? []) {
      if (v !== null && v > 0) {
        const l = Math.log10(v);
        if (l < low) low = l;
        if (l > high) high = l;
      }
    }
  }
  if (!Number.isFinite(low)) return { low: 0, high: 1 };
  return { low: Math.min(low, high - 2), high };
}

/**
 * Column edges: equal step ranges over [first, last] of every layer's steps, at most
 * ``count`` of them and no more than the longest series has points (no empty columns).
 */
export function stepBins(series: (SeriesJson | undefined)[], count: number): number[] {
  let first = Infinity;
  let last = -Infinity;
  let points = 0;
  for (const s of series) {
    if (s && s.steps.length) {
      first = Math.min(first, s.steps[0]);
      last = Math.max(last, s.steps[s.steps.length - 1]);
      points = Math.max(points, s.steps.length);
    }
  }
  if (!Number.isFinite(first)) return [];
  const columns = Math.max(1, Math.min(count, points, last - first + 1));
  const width = (last - first + 1) / columns;
  return Array.from({ length: columns + 1 }, (_, i) => first + i * width);
}

/**
 * Mean of the finite values in each bin. A bin without a point holds the previous bin's
 * value (logging cadence is irregular); bins before the first point are null.
 */
export function binValues(series: SeriesJson | undefined, edges: number[]): (number | null)[] {
  const bins = Math.max(0, edges.length - 1);
  const sums = new Array<number>(bins).fill(0);
  const counts = new Array<number>(bins).fill(0);
  if (series && bins) {
    const width = edges[1] - edges[0];
    for (let i = 0; i < series.steps.length; i++) {
      const value = series.values[i];
      if (value === null || !Number.isFinite(value)) continue;
      const bin = Math.min(bins - 1, Math.max(0, Math.floor((series.steps[i] - edges[0]) / width)));
      sums[bin] += value;
      counts[bin] += 1;
    }
  }
  let held: number | null = null;
  return sums.map((sum, i) => (held = counts[i] ? sum / counts[i] : held));
}

export interface LayerVerdict {
  dying: boolean;
  reason: string;
}

export const DYING_DEAD_FRACTION = 0.9;

/** A layer is dying when nearly all its units are dead, or its gradient is gone, at the end. */
export function layerVerdict(signals: Record<string, SeriesJson | undefined>): LayerVerdict {
  const last = (name: string) => {
    const values = signals[name]?.values ?? [];
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  };
  const dead = last(LAYER_DEAD_FRACTION);
  if (dead !== null && dead >= DYING_DEAD_FRACTION) {
    return { dying: true, reason: `${Math.round(dead * 100)}% of units dead` };
  }
  const saturated = last(LAYER_SATURATED_FRACTION);
  if (saturated !== null && saturated >= DYING_DEAD_FRACTION) {
    return { dying: true, reason: `${Math.round(saturated * 100)}% of units saturated` };
  }
  const grad = last(LAYER_GRAD_NORM);
  if (grad !== null && grad === 0) return { dying: true, reason: "gradient is zero" };
  return { dying: false, reason: "" };
}

/** Colour for a badness in [0, 1]: calm blue-grey through amber to red. */
export function badnessColor(badness: number | null, dark: boolean): string {
  if (badness === null) return dark ? "#2a2a2a" : "#f0f0f0";
  const b = fraction(badness);
  const calm = dark ? [60, 90, 120] : [200, 222, 240];
  const mid = [240, 180, 60];
  const bad = [215, 40, 40];
  const [from, to, t] = b < 0.5 ? [calm, mid, b * 2] : [mid, bad, (b - 0.5) * 2];
  const mix = from.map((c, i) => Math.round(c + (to[i] - c) * t));
  return `rgb(${mix[0]},${mix[1]},${mix[2]})`;
}
