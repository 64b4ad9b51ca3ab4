import assert from "node:assert/strict";
import { test } from "node:test";
import {
  LAYER_SIGNALS,
  badnessColor,
  binValues,
  layerVerdict,
  logScale,
  stepBins,
} from "../src/layer_logic";

const series = (steps: number[], values: (number | null)[]) => ({ steps, values });

test("step bins cover every layer's steps", () => {
  const edges = stepBins([series([0, 10, 20, 30], [1, 1, 1, 1]), series([5, 39], [1, 1])], 4);
  assert.deepEqual(edges, [0, 10, 20, 30, 40]);
  assert.equal(stepBins([series([0, 10, 20], [1, 1, 1])], 100).length, 4);
  assert.deepEqual(stepBins([undefined], 4), []);
  assert.equal(stepBins([series([3, 4], [1, 1])], 100).length, 3);
});

test("bins average finite values and hold the last value over gaps", () => {
  const edges = [0, 10, 20, 30];
  assert.deepEqual(binValues(series([0, 5, 25], [1, 3, null]), edges), [2, 2, 2]);
  assert.deepEqual(binValues(series([29, 30], [4, 8]), edges), [null, null, 6]);
  assert.deepEqual(binValues(series([0, 25], [1, 5]), edges), [1, 1, 5]);
});

test("a dead layer is dying, a healthy one is not", () => {
  const dead = { dead_fraction: series([0, 1], [0.1, 1.0]) };
  assert.deepEqual(layerVerdict(dead), { dying: true, reason: "100% of units dead" });
  assert.equal(layerVerdict({ grad_norm: series([0, 1], [0.5, 0]) }).dying, true);
  assert.equal(layerVerdict({ saturated_fraction: series([0], [0.95]) }).dying, true);
  assert.equal(layerVerdict({ dead_fraction: series([0, 1], [1.0, 0.1]) }).dying, false);
  assert.equal(layerVerdict({ dead_fraction: series([0, 1], [0.5, null]) }).dying, false);
});

test("vanishing gradients are bad, large ones fine; zero is worst", () => {
  const grad = LAYER_SIGNALS.find((s) => s.name === "grad_norm")!;
  const scale = logScale([series([0, 1, 2], [1e-4, 1e-2, 1])]);
  assert.deepEqual(scale, { low: -4, high: 0 });
  assert.equal(grad.badness(0, scale), 1);
  assert.equal(grad.badness(1, scale), 0);
  assert.equal(grad.badness(1e-4, scale), 1);
  assert.equal(grad.badness(1e-2, scale), 0.5);
  const dead = LAYER_SIGNALS.find((s) => s.name === "dead_fraction")!;
  assert.equal(dead.badness(0.25, scale), 0.25);
});

test("colours run from calm to red, missing is neutral", () => {
  assert.equal(badnessColor(1, false), "rgb(215,40,40)");
  assert.equal(badnessColor(0, false), "rgb(200,222,240)");
  assert.notEqual(badnessColor(null, true), badnessColor(null, false));
});
