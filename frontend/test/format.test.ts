import assert from "node:assert/strict";
import { test } from "node:test";
import { alignLines } from "../src/chart_logic";
import { formatNumber, formatValue, percent, statusLabel } from "../src/format";

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
