import assert from "node:assert/strict";
import { test } from "node:test";
import {
  COLUMNS, GROUP_ROWS, NO_TEAM, filterRows, groupRows, groupSummary, lastStepText,
  mergeRunChanges, rowsToDraw, sortRows,
} from "../src/table_logic";
import type { RunRow } from "../src/types";

function row(run: string, status: RunRow["status"], extra: Partial<RunRow> = {}): RunRow {
  return {
    run,
    status,
    since_step: status === "healthy" ? null : 100,
    causes: [],
    symptom: [],
    notes: [],
    tags: {},
    team: null,
    path_group: run.includes("/") ? run.split("/")[0] : ".",
    last_step: 1000,
    trained: null,
    key_signals: {},
    config: {},
    problems: [],
    ...extra,
  };
}

const cause = (id: string, confidence: number) => ({
  id, confidence, since_step: 10, evidence: [], fix: "",
});

const rows: RunRow[] = [
  row("vision/a", "healthy", { team: "vision", tags: { team: "vision", owner: "ana" },
    key_signals: { output_variance_ratio: 0.9 } }),
  row("vision/b", "collapsed", { team: "vision", tags: { team: "vision" },
    causes: [cause("dead_relu", 0.8)], since_step: 300, key_signals: { output_variance_ratio: 0.01 } }),
  row("audio/c", "at_risk", { team: "audio", tags: { team: "audio", owner: "bo" },
    causes: [cause("lr_too_high", 0.6)], since_step: 50 }),
  row("misc", "collapsed", { causes: [cause("init_constant", 0.9)], since_step: 20 }),
];

test("status sorts by severity, ties keep their order", () => {
  const sorted = sortRows(rows, { key: "status", descending: true }).map((r) => r.run);
  assert.deepEqual(sorted, ["vision/b", "misc", "audio/c", "vision/a"]);
});

test("missing numbers sort last in both directions", () => {
  for (const descending of [false, true]) {
    const sorted = sortRows(rows, { key: "spread", descending }).map((r) => r.run);
    assert.deepEqual(sorted.slice(2).sort(), ["audio/c", "misc"]);
  }
  assert.deepEqual(
    sortRows(rows, { key: "spread", descending: false }).slice(0, 2).map((r) => r.run),
    ["vision/b", "vision/a"],
  );
});

test("onset sorts numerically", () => {
  const sorted = sortRows(rows, { key: "onset", descending: false }).map((r) => r.since_step);
  assert.deepEqual(sorted, [20, 50, 300, null]);
});

test("filter by words and key:value terms", () => {
  const names = (q: string) => filterRows(rows, q).map((r) => r.run);
  assert.deepEqual(names("team:vision"), ["vision/a", "vision/b"]);
  assert.deepEqual(names("team:vision status:collapsed"), ["vision/b"]);
  assert.deepEqual(names("cause:lr_too"), ["audio/c"]);
  assert.deepEqual(names("owner:bo"), ["audio/c"]);
  assert.deepEqual(names("AT RISK"), ["audio/c"]);
  assert.deepEqual(names("misc"), ["misc"]);
  assert.deepEqual(names(""), rows.map((r) => r.run));
  assert.deepEqual(names("nobody:here"), []);
});

test("groups by team tag with the untagged last, or by first folder", () => {
  const byTeam = groupRows(rows, "team");
  assert.deepEqual(byTeam.map((g) => g.name), ["audio", "vision", NO_TEAM]);
  assert.equal(groupSummary(byTeam[1]), "2 runs, 1 collapsed, 1 healthy");
  assert.deepEqual(groupRows(rows, "folder").map((g) => g.name), [".", "audio", "vision"]);
  assert.equal(groupRows(rows, "none").length, 1);
});

test("cells are plain text with their numbers", () => {
  const text = (key: string, r: RunRow) => COLUMNS.find((c) => c.key === key)!.text(r);
  assert.equal(text("cause", rows[1]), "dead_relu (80%)");
  assert.equal(text("status", rows[2]), "at risk");
  assert.equal(text("tags", rows[0]), "owner=ana");
  assert.equal(text("spread", rows[1]), "0.01");
  assert.equal(text("cause", rows[0]), "–");
});

test("the last logged step says how far the run trained when it went on past it", () => {
  const trained = (steps: number) => ({ steps, logging_steps: 30, logging_overhead: 0.02 });
  assert.equal(lastStepText(row("a", "healthy", { last_step: 104, trained: trained(800) })),
    "104 of 800");
  assert.equal(lastStepText(row("a", "healthy", { last_step: 799, trained: trained(800) })), "799");
  assert.equal(lastStepText(row("a", "healthy", { last_step: 104 })), "104");
  assert.equal(lastStepText(row("a", "healthy", { last_step: null })), "–");
});

test("a long group draws its first rows, the open and picked runs, and counts the rest", () => {
  const many = Array.from({ length: GROUP_ROWS + 50 }, (_, i) =>
    row(`team/run_${String(i).padStart(4, "0")}`, "healthy"));
  const { drawn, hidden } = rowsToDraw(many, false, ["team/run_0230", "team/run_0003"]);
  assert.equal(drawn.length, GROUP_ROWS + 1);
  assert.equal(hidden, 49);
  assert.deepEqual(drawn.slice(0, GROUP_ROWS), many.slice(0, GROUP_ROWS));
  assert.equal(drawn[GROUP_ROWS].run, "team/run_0230");
  assert.deepEqual(rowsToDraw(many, true, []), { drawn: many, hidden: 0 });
  const few = many.slice(0, 3);
  assert.deepEqual(rowsToDraw(few, false, []), { drawn: few, hidden: 0 });
});

test("a poll's changes replace, add and remove rows, in run-name order", () => {
  const held = [row("a", "healthy"), row("b", "healthy"), row("c", "healthy")];
  const changedB = row("b", "collapsed");
  const merged = mergeRunChanges(held, [row("d", "at_risk"), changedB], ["c"]);
  assert.deepEqual(merged.map((r) => r.run), ["a", "b", "d"]);
  assert.equal(merged[1], changedB);
  assert.equal(merged[0], held[0]);  // unchanged rows are the held ones
  assert.deepEqual(mergeRunChanges(held, [], []), held);
  assert.deepEqual(mergeRunChanges(held, [], ["a", "b", "c", "x"]), []);
});
