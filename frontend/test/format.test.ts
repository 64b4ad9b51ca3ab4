import assert from "node:assert/strict";
import { test } from "node:test";
import {
  alignLines,
  axisWidth,
  forLogAxis,
  stepRange,
  wantsLogAxis,
} from "../src/chart_logic";
import {
  formatNumber,
  formatValue,
  percent,
  statusLabel,
  trainedText,
  verdictNotes,
} from "../src/format";
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

test("a closed run says how many steps it trained, logged, when the end was measured, and what logging cost", () => {
  const measured = closedRun(800, {
    steps: 800, logging_steps: 67, logging_overhead: 0.0514, final_step: 800,
    logging_seconds: 0.31,
  });
  assert.equal(
    trainedText(measured),
    "Trained 800 steps, 67 of them logged; the end measured at step 800. " +
      "aelog's logging took 0.31 s (5.1% of the run's time).",
  );
  const headline = closedRun(2000, {
    steps: 2000, logging_steps: 72, logging_overhead: 0.11, final_step: 2000,
    logging_seconds: 0.27, headline_only: 29,
  });
  assert.equal(
    trainedText(headline),
    "Trained 2000 steps, 72 of them logged (29 of those the error and spread only, within " +
      "the budget); the end measured at step 2000. aelog's logging took 0.27 s (11.0% of " +
      "the run's time).",
  );
  const thinned = closedRun(800, {
    steps: 800, logging_steps: 40, logging_overhead: 0.02, final_step: 800,
    logging_seconds: 0.5, thinned: 12,
  });
  assert.match(
    trainedText(thinned) ?? "",
    /\(2\.0% of the run's time\)\. Logging was thinned to stay within its budget \(12 points skipped\)\.$/,
  );
  const older = closedRun(104, { steps: 800, logging_steps: 31, logging_overhead: 0.3 });
  assert.equal(
    trainedText(older),
    "Trained 800 steps, 31 of them logged; the end was not measured (no training forward " +
      "to replay). aelog's logging took 30.0% of the run's time.",
  );
  assert.equal(trainedText(closedRun(104, null)), null);
});

test("an error falling over more than three decades gets a log axis", () => {
  const falling = { label: "e", series: { steps: [0, 1, 2], values: [1, 0.01, 0.0004] } };
  const flat = { label: "e", series: { steps: [0, 1, 2], values: [1, 0.5, 0.002] } };
  assert.equal(wantsLogAxis([falling]), true);
  assert.equal(wantsLogAxis([flat]), false);
  assert.equal(wantsLogAxis([{ label: "z", series: { steps: [0, 1], values: [0, null] } }]), false);
  assert.deepEqual(forLogAxis([[0, 1, 2], [0, 0.5, -1], [null, 2, 3]]), [
    [0, 1, 2], [null, 0.5, null], [null, 2, 3],
  ]);
});

test("a y axis is as wide as its widest label", () => {
  assert.ok(axisWidth(["1.2e-5", "0.001"]) > axisWidth(["0", "1"]));
  assert.ok(axisWidth(["-1.23e-12"]) >= 9 * 7);
});

test("charts reach the end of the run they describe", () => {
  assert.deepEqual(stepRange([[0, 10, 104]], 800), [0, 800]);
  assert.deepEqual(stepRange([[0, 10, 800]], null), [0, 800]);
  assert.deepEqual(stepRange([[5]], null), [5, 6]);
});

test("a verdict without a ranked cause shows the note that explains it", () => {
  const notes = [
    "not checked, their signals were not logged: under_regularized",
    "cause not among the 15: the training inputs held NaN/Inf at step 150. Fix: check the data",
    "too short to judge: the run ended after 20 steps",
  ];
  assert.deepEqual(verdictNotes(notes), [notes[1], notes[2]]);
  assert.deepEqual(verdictNotes(["early in training: this verdict may change"]), []);
});
