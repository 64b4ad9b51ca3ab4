/** Per-layer view: one heat strip per layer and signal over steps; dying layers flagged. */

import { h } from "./dom";
import { formatNumber } from "./format";
import {
  LAYER_SIGNALS,
  type Scale,
  badnessColor,
  binValues,
  layerVerdict,
  logScale,
  stepBins,
} from "./layer_logic";
import type { RunDetail } from "./types";

const COLUMNS = 120;
const CELL_HEIGHT = 14;

export function layerView(detail: RunDetail, width: number, dark: boolean): HTMLElement {
  const box = h("div", { class: "layers" });
  if (!detail.layers.length) {
    box.append(h("p", { class: "muted" }, "no per-layer signals logged for this run"));
    return box;
  }
  const every = LAYER_SIGNALS.flatMap((signal) => detail.layers.map((l) => l.signals[signal.name]));
  const edges = stepBins(every, COLUMNS);
  const stripWidth = Math.max(120, Math.floor((width - 230) / LAYER_SIGNALS.length) - 16);
  const table = h("table", { class: "layer-table" });
  table.append(
    h(
      "tr",
      {},
      h("th", {}, "Layer"),
      ...LAYER_SIGNALS.map((s) => h("th", {}, s.title)),
    ),
  );
  const scales = new Map<string, Scale>();
  for (const signal of LAYER_SIGNALS) {
    const series = detail.layers.map((l) => l.signals[signal.name]);
    scales.set(signal.name, signal.logScale ? logScale(series) : { low: 0, high: 1 });
  }
  for (const layer of detail.layers) {
    const verdict = layerVerdict(layer.signals);
    const name = h("td", { class: "layer-name" }, h("span", {}, layer.name));
    if (verdict.dying) name.append(h("span", { class: "dying" }, `dying: ${verdict.reason}`));
    const row = h("tr", { class: verdict.dying ? "layer dying-row" : "layer" }, name);
    for (const signal of LAYER_SIGNALS) {
      const series = layer.signals[signal.name];
      const cell = h("td", {});
      if (!series) {
        cell.append(h("span", { class: "muted" }, "not logged"));
      } else {
        cell.append(strip(binValues(series, edges), edges, signal, scales.get(signal.name)!, stripWidth, dark));
      }
      row.append(cell);
    }
    table.append(row);
  }
  box.append(table);
  if (edges.length) {
    box.append(
      h(
        "div",
        { class: "muted axis-note" },
        `steps ${Math.round(edges[0])} to ${Math.round(edges[edges.length - 1] - 1)}; ` +
          "red = bad (dead, saturated, or gradient/update vanishing), blue = fine",
      ),
    );
  }
  return box;
}

function strip(
  values: (number | null)[],
  edges: number[],
  signal: (typeof LAYER_SIGNALS)[number],
  scale: Scale,
  width: number,
  dark: boolean,
): HTMLCanvasElement {
  const canvas = h("canvas", { class: "strip" });
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(CELL_HEIGHT * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${CELL_HEIGHT}px`;
  const ctx = canvas.getContext("2d");
  if (ctx) {
    const cell = canvas.width / Math.max(values.length, 1);
    values.forEach((value, i) => {
      ctx.fillStyle = badnessColor(value === null ? null : signal.badness(value, scale), dark);
      ctx.fillRect(Math.floor(i * cell), 0, Math.ceil(cell), canvas.height);
    });
  }
  canvas.addEventListener("mousemove", (event) => {
    const i = Math.min(values.length - 1, Math.floor((event.offsetX / width) * values.length));
    const from = Math.round(edges[i]);
    canvas.title = `${signal.title}, steps ${from}-${Math.round(edges[i + 1]) - 1}: ${formatNumber(values[i])}`;
  });
  return canvas;
}
