import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_CAUSE, groupFilter, teamOverview } from "../src/overview_logic";
import { NO_TEAM, filterRows } from "../src/table_logic";
import type { RunRow } from "../src/types";

function row(run: string, status: RunRow["status"], team: string | null, cause?: string): RunRow {
  return {
    run, status, since_step: null, symptom: [], notes: [],
    causes: cause ? [{ id: cause, confidence: 0.8, since_step: 1, evidence: [], fix: "" }] : [],
    tags: team ? { team } : {}, team, path_group: run.split("/")[0], last_step: 10,
    trained: null, key_signals: {}, config: {}, problems: [],
  };
}

const rows = [
  row("vision/a", "healthy", "vision"),
  row("vision/b", "collapsed", "vision", "dead_relu"),
  row("vision/c", "collapsed", "vision", "dead_relu"),
  row("vision/d", "at_risk", "vision", "lr_too_high"),
  row("vision/e", "collapsed", "vision"),
  row("speech/f", "at_risk", "speech", "init_constant"),
  row("misc/g", "collapsed", null, "lr_too_low"),
];

test("each team counts its statuses and ranks its top causes", () => {
  const [speech, vision, none] = teamOverview(rows, "team");
  assert.equal(vision.name, "vision");
  assert.equal(vision.runs, 5);
  assert.deepEqual(vision.counts, { healthy: 1, collapsed: 3, at_risk: 1 });
  assert.deepEqual(vision.causes.map((c) => [c.id, c.count]), [
    ["dead_relu", 2], ["lr_too_high", 1], [NO_CAUSE, 1],
  ]);
  assert.equal(speech.name, "speech");
  assert.equal(none.name, NO_TEAM);  // the untagged group comes last
});

test("each cause's filter lists exactly its runs", () => {
  for (const team of teamOverview(rows, "team")) {
    for (const cause of team.causes) {
      if (!cause.filter) continue;
      const listed = filterRows(rows, cause.filter);
      const expected = rows.filter((r) => (r.team ?? NO_TEAM) === team.name
        && r.status !== "healthy" && (r.causes[0]?.id ?? NO_CAUSE) === cause.id);
      if (cause.id === NO_CAUSE) {
        assert.ok(expected.every((r) => listed.includes(r)));  // the team's runs, to look over
      } else {
        assert.deepEqual(listed.map((r) => r.run), expected.map((r) => r.run), cause.filter);
      }
    }
  }
});

test("folder groups filter by the run's path; untagged runs have no team filter", () => {
  assert.equal(groupFilter("vision", "folder"), "run:vision/");
  assert.equal(groupFilter(NO_TEAM, "team"), "");
  const folders = teamOverview(rows, "folder");
  assert.deepEqual(folders.map((f) => f.name), ["misc", "speech", "vision"]);
  assert.deepEqual(filterRows(rows, folders[1].filter).map((r) => r.run), ["speech/f"]);
});
