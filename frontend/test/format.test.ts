import assert from "node:assert/strict";
import { test } from "node:test";
import { alignLines } from "../src/chart_logic";
import { formatNumber, formatValue, percent, statusLabel, trainedText } from "../src/format";
import type { RunRow } from "../src/types";

test("numbers read short", () => {
  assert.equal(formatNumber(0.123456), "0.123");
  assert.equal(formatNumber(1500), "1500");
  assert.equal(formatNumber(0.00001234), "1.2e-5");
  assert.equal(formatNumber(null), "–");
  assert.equal(formatNumber(Infinity), "inf");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatValue("Adam"), "Adam");
  assert.equal(formatValue(true), "true");
  assert.equal(percent(0.876), "88%");
  assert.equal(statusLabel("at_risk"), "at risk");
});

test("lines share one step axis with gaps where a line has no point", () => {
  const columns = alignLines([
    { label: "a", series: { steps: [0, 10, 20], values: [1, 2, 3] } },
    { label: "b", series: { steps: [10, 30], values: [5, null] } },
  ]);
  assert.deepEqual(columns, [
    [0, 10, 20, 30],
    [1, 2, 3, null],
    [null, 5, null, null],
  ]);
});

function closedRun(lastStep: number | null, trained: RunRow["trained"]): RunRow {
  return {
    run: "r", status: "healthy", since_step: null, causes: [], symptom: [], notes: [],
    tags: {}, team: null, path_group: ".", last_step: lastStep, trained, key_signals: {},
    config: {}, problems: [],
  };
}

test("a closed run says how many steps it trained, logged, and what logging cost", () => {
  const spaced = closedRun(800, { steps: 800, logging_steps: 31, logging_overhead: 0.0514 });
  assert.equal(
    trainedText(spaced),
    "Trained 800 steps, 31 of them logged; aelog's logging took 5.1% of the run's time. " +
      "The first 100 steps are logged densely, later ones spaced out to keep to the budget; " +
      "log_every=N logs more.",
  );
  const every = closedRun(799, { steps: 800, logging_steps: 800, logging_overhead: 0.3 });
  assert.equal(
    trainedText(every),
    "Trained 800 steps, 800 of them logged; aelog's logging took 30.0% of the run's time.",
  );
  assert.equal(trainedText(closedRun(104, null)), null);
});
