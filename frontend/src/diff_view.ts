/** Two-run diff: what differs in their configuration, and where their signals part. */

import { h } from "./dom";
import { formatNumber, formatValue } from "./format";
import type { Pair } from "./types";

export function diffView(pair: Pair): HTMLElement {
  const [a, b] = pair.runs;
  const box = h("div", { class: "diff" });
  const config = h(
    "table",
    { class: "diff-table" },
    h("tr", {}, h("th", {}, "Setting"), h("th", {}, a), h("th", {}, b)),
  );
  for (const difference of pair.config_differences) {
    config.append(
      h(
        "tr",
        { "data-key": difference.key },
        h("td", {}, difference.key),
        h("td", {}, formatValue(difference.a)),
        h("td", {}, formatValue(difference.b)),
      ),
    );
  }
  box.append(h("h3", {}, "Configuration differences"));
  box.append(
    pair.config_differences.length
      ? config
      : h("p", { class: "muted" }, "The two runs logged the same configuration and tags."),
  );
  box.append(h("h3", {}, "Where the signals part"));
  if (pair.signals_part_at_step === null) {
    box.append(h("p", { class: "muted parting" }, "Their headline signals never part beyond noise."));
  } else {
    box.append(
      h("p", { class: "parting" }, `The runs' signals part at step ${pair.signals_part_at_step}.`),
    );
    const signals = h(
      "table",
      { class: "diff-table" },
      h("tr", {}, h("th", {}, "Signal"), h("th", {}, "Step"), h("th", {}, a), h("th", {}, b)),
    );
    for (const d of pair.diverging_signals) {
      signals.append(
        h(
          "tr",
          {},
          h("td", {}, d.signal),
          h("td", {}, String(d.step)),
          h("td", {}, formatNumber(d.a)),
          h("td", {}, formatNumber(d.b)),
        ),
      );
    }
    box.append(signals);
  }
  return box;
}
