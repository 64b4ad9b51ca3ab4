/** The comparison table: all runs, grouped, sortable by any column, filterable. */

import { h } from "./dom";
import {
  COLUMNS, type GroupBy, type SortState, filterRows, groupRows, groupSummary, rowsToDraw, sortRows,
} from "./table_logic";
import type { RunRow } from "./types";

export interface TableState {
  sort: SortState;
  filter: string;
  groupBy: GroupBy;
  selected: string | null;
  compared: string[];
  /** groups drawn in full (others draw their first GROUP_ROWS rows). */
  expanded: string[];
}

export interface TableEvents {
  sortBy(key: string): void;
  select(run: string): void;
  toggleCompared(run: string): void;
  expand(group: string): void;
}

export function comparisonTable(rows: RunRow[], state: TableState, events: TableEvents): HTMLElement {
  const shown = sortRows(filterRows(rows, state.filter), state.sort);
  const table = h("table", { class: "runs-table" });
  const head = h("tr", {}, h("th", { title: "pick two runs to diff" }, "Diff"));
  for (const column of COLUMNS) {
    const arrow = state.sort.key === column.key ? (state.sort.descending ? " ▼" : " ▲") : "";
    const th = h("th", { class: "sortable", "data-key": column.key }, column.title + arrow);
    th.addEventListener("click", () => events.sortBy(column.key));
    head.append(th);
  }
  table.append(h("thead", {}, head));
  const body = h("tbody", {});
  const keep = state.selected ? [state.selected, ...state.compared] : state.compared;
  let drawnCount = 0;
  for (const group of groupRows(shown, state.groupBy)) {
    if (state.groupBy !== "none") {
      body.append(
        h(
          "tr",
          { class: "group-row" },
          h("td", { colspan: String(COLUMNS.length + 1) }, h("strong", {}, group.name), `  ${groupSummary(group)}`),
        ),
      );
    }
    const { drawn, hidden } = rowsToDraw(group.rows, state.expanded.includes(group.name), keep);
    for (const row of drawn) body.append(runRow(row, state, events));
    drawnCount += drawn.length;
    if (hidden) body.append(moreRow(group.name, hidden, state.groupBy !== "none", events));
  }
  table.append(body);
  const listed = drawnCount < shown.length ? ` (${drawnCount} drawn)` : "";
  const count = h("div", { class: "muted table-count" }, `${shown.length} of ${rows.length} runs shown${listed}`);
  return h("div", { class: "table-box" }, count, table);
}

function runRow(row: RunRow, state: TableState, events: TableEvents): HTMLElement {
  const classes = ["run-row", `status-${row.status}`];
  if (state.selected === row.run) classes.push("selected");
  const tr = h("tr", { class: classes.join(" "), "data-run": row.run });
  const box = h("input", { type: "checkbox", class: "diff-pick", "aria-label": `diff ${row.run}` });
  box.checked = state.compared.includes(row.run);
  box.addEventListener("click", (event) => {
    event.stopPropagation();
    events.toggleCompared(row.run);
  });
  tr.append(h("td", {}, box));
  for (const column of COLUMNS) {
    const cls = column.key === "status" ? `cell-status badge-text-${row.status}` : `cell-${column.key}`;
    tr.append(h("td", { class: cls }, column.text(row)));
  }
  tr.addEventListener("click", () => events.select(row.run));
  return tr;
}

function moreRow(group: string, hidden: number, named: boolean, events: TableEvents): HTMLElement {
  const button = h("button", { class: "more-rows", type: "button" },
    `Show ${hidden} more run${hidden === 1 ? "" : "s"}${named ? ` of ${group}` : ""}`);
  button.addEventListener("click", () => events.expand(group));
  return h("tr", { class: "more-row" }, h("td", { colspan: String(COLUMNS.length + 1) }, button));
}
