/** Symptom charts (uPlot): the healthy band shaded, the onset step marked. */

import uPlot from "uplot";
import { clear, h } from "./dom";
import { formatNumber } from "./format";
import {
  type Line,
  alignLines,
  axisWidth,
  forLogAxis,
  stepRange,
  wantsLogAxis,
} from "./chart_logic";
import type { Band } from "./types";

export interface ChartSpec {
  title: string;
  lines: Line[];
  band?: Band;
  /** the y axis reaches at least this high, so a flat zero line still reads as zero. */
  yAtLeast: number;
  onset: number | null;
  /** the steps the run trained, when known: the x axis reaches its end */
  endStep: number | null;
  width: number;
  dark: boolean;
}

const COLORS = ["#1e88e5", "#8e24aa", "#43a047"];

/** A chart of one run's series, with a button that flips its y axis between linear and
 * log (log from the start where the values span more than three decades). */
export function symptomChart(spec: ChartSpec): HTMLElement {
  const box = h("div", { class: "chart" });
  const present = spec.lines.filter((l) => l.series && l.series.steps.length);
  if (!present.length) {
    box.append(h("div", { class: "chart-title" }, spec.title));
    box.append(h("p", { class: "muted" }, "not logged for this run"));
    return box;
  }
  let log = wantsLogAxis(present);
  const toggle = h("button", { class: "axis-toggle", type: "button" });
  const holder = h("div", { class: "plot" });
  const draw = (): void => {
    clear(holder);
    toggle.textContent = log ? "linear y" : "log y";
    toggle.setAttribute("aria-pressed", String(log));
    box.dataset.scale = log ? "log" : "linear";
    const plot = new uPlot(plotOptions(spec, present, log), plotData(present, log), holder);
    (box as HTMLElement & { plot?: uPlot }).plot = plot;
  };
  toggle.addEventListener("click", () => {
    log = !log;
    draw();
  });
  box.append(h("div", { class: "chart-head" }, h("span", { class: "chart-title" }, spec.title),
                toggle), holder);
  draw();
  if (spec.band) box.append(h("div", { class: "band-label" }, spec.band.label));
  return box;
}

function plotData(present: Line[], log: boolean): uPlot.AlignedData {
  const columns = alignLines(present);
  return (log ? forLogAxis(columns) : columns) as uPlot.AlignedData;
}

function plotOptions(spec: ChartSpec, present: Line[], log: boolean): uPlot.Options {
  const ink = spec.dark ? "#ccc" : "#333";
  const grid = spec.dark ? "#3a3a3a" : "#e6e6e6";
  const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
  const [first, last] = stepRange(alignLines(present), spec.endStep);
  const labels = (ticks: number[]): string[] => ticks.map((t) => formatNumber(t));
  return {
    width: spec.width,
    height: 180,
    scales: {
      x: { time: false, range: () => [first, last] },
      y: log
        ? { distr: 3 }
        : {
            range: (_u, min, max) => {
              const low = Math.min(0, min ?? 0);
              const high = Math.max(spec.yAtLeast, max ?? 0);
              return [low, high + (high - low) * 0.05];
            },
          },
    },
    legend: { show: true },
    cursor: { drag: { x: true, y: false } },
    axes: [
      { ...axis, size: 40 },
      {
        ...axis,
        values: (_u, ticks) => labels(ticks),
        size: (_u, values) => axisWidth(values ?? []),
      },
    ],
    series: [
      { label: "step", value: (_u, v) => (v === null ? "–" : String(v)) },
      ...present.map((line, i) => ({
        label: line.label,
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        dash: line.dashed ? [6, 4] : undefined,
        spanGaps: false,
        value: (_u: uPlot, v: number | null) => formatNumber(v),
      })),
    ],
    hooks: { drawClear: [(u) => drawBand(u, spec)], draw: [(u) => drawOnset(u, spec)] },
  };
}

function drawBand(u: uPlot, spec: ChartSpec): void {
  const band = spec.band;
  if (!band) return;
  const scale = u.scales.y;
  if (scale.min === undefined || scale.max === undefined) return;
  const low = band.low ?? scale.min;
  const high = band.high ?? scale.max;
  if (high < scale.min || low > scale.max) return;
  const top = u.valToPos(Math.min(high, scale.max), "y", true);
  const bottom = u.valToPos(Math.max(low, scale.min), "y", true);
  u.ctx.save();
  u.ctx.fillStyle = spec.dark ? "rgba(76,175,80,0.16)" : "rgba(76,175,80,0.13)";
  u.ctx.fillRect(u.bbox.left, top, u.bbox.width, bottom - top);
  u.ctx.restore();
}

function drawOnset(u: uPlot, spec: ChartSpec): void {
  if (spec.onset === null) return;
  const x = u.valToPos(spec.onset, "x", true);
  if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = "#e53935";
  ctx.lineWidth = 2 * uPlot.pxRatio;
  ctx.setLineDash([5 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
  ctx.beginPath();
  ctx.moveTo(x, u.bbox.top);
  ctx.lineTo(x, u.bbox.top + u.bbox.height);
  ctx.stroke();
  ctx.fillStyle = "#e53935";
  ctx.font = `${11 * uPlot.pxRatio}px sans-serif`;
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  ctx.fillText(`onset ${spec.onset}`, x + 4 * uPlot.pxRatio, u.bbox.top + 12 * uPlot.pxRatio);
  ctx.restore();
}
