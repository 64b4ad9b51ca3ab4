/** The tab: state, layout, data loading and reload. Views draw; this decides what. */

import { fetchComparison, fetchRun, fetchRuns, fetchRunsSince } from "./api";
import { diagnosisCard } from "./card_view";
import { symptomChart } from "./chart_view";
import { diffView } from "./diff_view";
import { clear, h } from "./dom";
import {
  DATA_RELOADED, GET_URL_DATA, Host, RUNS_CHANGED, readUrlData, setUrlData,
} from "./host";
import { layerView } from "./layer_view";
import { teamOverview } from "./overview_logic";
import { overviewView } from "./overview_view";
import { CODE_EFFECTIVE_RANK, OUTPUT_VARIANCE_RATIO, RANK_K_ERROR, RELATIVE_ERROR } from "./signals";
import { type TableState, comparisonTable } from "./table_view";
import { sortRows } from "./table_logic";
import { applyTheme } from "./theme";
import type { RunDetail, RunRow } from "./types";

const POLL_MS = 30_000;
const URL_SAVE_MS = 800;
/** the filter is written to the URL once typing pauses: one history entry, not one a key */
const GROUPINGS = ["team", "folder", "none"];

export class App {
  private rows: RunRow[] = [];
  /** the plugin's listing ``rows`` came from: a reload asks only for what changed since */
  private listing: string | null = null;
  private state: TableState = {
    sort: { key: "status", descending: true },
    filter: "",
    groupBy: "team",
    selected: null,
    compared: [],
    expanded: [],
  };
  private detail: RunDetail | null = null;
  private dark = false;
  private loading: Promise<void> | null = null;
  private readonly summary = h("span", { class: "summary" });
  private readonly filterInput = h("input", {
    type: "search",
    class: "filter",
    placeholder: "filter: words, or team:vision status:collapsed cause:dead_relu",
    "aria-label": "filter runs",
  });
  private readonly groupSelect = h(
    "select",
    { class: "group-by", "aria-label": "group runs by" },
    h("option", { value: "team" }, "group by team tag"),
    h("option", { value: "folder" }, "group by first folder"),
    h("option", { value: "none" }, "no groups"),
  );
  private readonly overviewBox = h("div", { class: "overview-area" });
  private urlTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly message = h("div", { class: "message" });
  private readonly tableBox = h("div", { class: "table-area" });
  private readonly diffBox = h("section", { class: "diff-area" });
  private readonly detailBox = h("section", { class: "detail-area" });

  constructor(private readonly root: HTMLElement, private readonly host: Host) {}

  async start(): Promise<void> {
    this.dark = applyTheme(this.root);
    this.layout();
    this.host.on(DATA_RELOADED, () => void this.reload());
    this.host.on(RUNS_CHANGED, () => void this.reload());
    const urlData = this.host.request(GET_URL_DATA, { pluginName: "aelog" });
    const first = this.reload();  // the table never waits for the host
    setInterval(() => void this.reload(), POLL_MS);
    const data = { ...(((await urlData) as Record<string, string> | null) ?? {}), ...readUrlData() };
    await first;
    if (data?.group && GROUPINGS.includes(data.group)) {
      this.state.groupBy = data.group as TableState["groupBy"];
      this.groupSelect.value = data.group;
    }
    if (data?.filter) {
      this.state.filter = data.filter;
      this.filterInput.value = data.filter;
    }
    if (data?.group || data?.filter) this.drawTable();
    if (data?.run && this.rows.some((r) => r.run === data.run)) {
      this.state.selected = data.run;
      this.drawTable();
      await this.loadDetail();
    }
  }

  private layout(): void {
    const filter = this.filterInput;
    filter.addEventListener("input", () => {
      this.state.filter = filter.value;
      this.drawTable();
      this.saveUrl();
    });
    const group = this.groupSelect;
    group.addEventListener("change", () => {
      this.state.groupBy = group.value as TableState["groupBy"];
      this.drawTable();
      this.saveUrl();
    });
    this.root.append(
      h("header", { class: "top" }, h("h1", {}, "Collapse Diagnosis"), this.summary),
      this.message,
      h("h2", {}, "Comparing runs across teams"),
      this.overviewBox,
      h("div", { class: "controls" }, filter, group),
      this.tableBox,
      this.diffBox,
      this.detailBox,
    );
  }

  /** Fetch the run list (and what is open) again; concurrent calls share one load. */
  reload(): Promise<void> {
    if (!this.loading) {
      this.loading = this.load().finally(() => {
        this.loading = null;
      });
    }
    return this.loading;
  }

  private async load(): Promise<void> {
    const dark = applyTheme(this.root);
    const themeChanged = dark !== this.dark;
    this.dark = dark;
    try {
      let drawn = false;
      const held = this.listing === null ? null : { rows: this.rows, listing: this.listing };
      const list = (held && (await fetchRunsSince(held))) || (await fetchRuns((rows, total) => {
        this.rows = rows;  // a long list: draw its first page, then count what comes
        this.drawSummary(total);
        if (!drawn) this.drawTable();
        drawn = true;
      }));
      this.rows = list.rows;
      this.listing = list.listing;
      this.showMessage("");
    } catch (error) {
      this.showMessage(`Could not load the runs: ${String(error)}`);
      return;
    }
    const names = new Set(this.rows.map((r) => r.run));
    this.state.compared = this.state.compared.filter((r) => names.has(r));
    if (!this.state.selected || !names.has(this.state.selected)) {
      const first = sortRows(this.rows, { key: "status", descending: true })[0];
      this.state.selected = first ? first.run : null;
    }
    this.drawSummary();
    this.drawTable();
    this.root.dataset.state = "table-drawn";
    const selected = this.rows.find((r) => r.run === this.state.selected);
    const stale =
      !this.detail || this.detail.run.run !== selected?.run ||
      this.detail.run.last_step !== selected?.last_step;
    await Promise.all([
      stale || themeChanged ? this.loadDetail() : Promise.resolve(),
      this.loadDiff(),
    ]);
    this.root.dataset.state = "ready";
  }

  private drawSummary(total?: number): void {
    const count = (status: string) => this.rows.filter((r) => r.status === status).length;
    const time = new Date().toLocaleTimeString();
    const coming = total && total > this.rows.length ? ` (loading: ${this.rows.length} of ${total})` : "";
    this.summary.textContent =
      `${this.rows.length} runs${coming}: ${count("collapsed")} collapsed, ` +
      `${count("at_risk")} at risk, ${count("healthy")} healthy. Updated ${time}.`;
  }

  /** The filter, grouping and open run into TensorBoard's URL, once the user pauses. */
  private saveUrl(): void {
    if (this.urlTimer) clearTimeout(this.urlTimer);
    this.urlTimer = setTimeout(() => {
      setUrlData("filter", this.state.filter);
      setUrlData("group", this.state.groupBy);
      setUrlData("run", this.state.selected ?? "");
    }, URL_SAVE_MS);
  }

  private drawOverview(): void {
    clear(this.overviewBox);
    if (this.rows.length < 2) return;
    this.overviewBox.append(
      overviewView(teamOverview(this.rows, this.state.groupBy), (filter) => {
        this.state.filter = filter;
        this.filterInput.value = filter;
        this.drawTable();
        this.saveUrl();
      }),
    );
  }

  private drawTable(): void {
    this.drawOverview();
    clear(this.tableBox);
    if (!this.rows.length) {
      this.tableBox.append(h("p", { class: "muted" }, "No aelog runs in this logdir yet."));
      return;
    }
    this.tableBox.append(
      comparisonTable(this.rows, this.state, {
        sortBy: (key) => {
          const same = this.state.sort.key === key;
          this.state.sort = { key, descending: same ? !this.state.sort.descending : false };
          this.drawTable();
        },
        select: (run) => {
          this.state.selected = run;
          this.drawTable();
          this.saveUrl();
          void this.loadDetail();
        },
        expand: (group) => {
          this.state.expanded = [...this.state.expanded, group];
          this.drawTable();
        },
        toggleCompared: (run) => {
          const picked = this.state.compared.filter((r) => r !== run);
          if (picked.length === this.state.compared.length) picked.push(run);
          this.state.compared = picked.slice(-2);
          this.drawTable();
          void this.loadDiff();
        },
      }),
    );
  }

  private async loadDetail(): Promise<void> {
    const run = this.state.selected;
    if (!run) {
      clear(this.detailBox);
      return;
    }
    try {
      const detail = await fetchRun(run);
      if (this.state.selected !== run) return;
      this.detail = detail;
      this.drawDetail(detail);
    } catch (error) {
      clear(this.detailBox);
      this.detailBox.append(h("p", { class: "error" }, `Could not load ${run}: ${String(error)}`));
    }
  }

  private drawDetail(detail: RunDetail): void {
    clear(this.detailBox);
    const width = Math.max(480, this.root.clientWidth - 40);
    const chartWidth = Math.max(300, Math.floor((width - 24) / 3) - 8);
    const onset = detail.run.since_step;
    const s = detail.signals;
    this.detailBox.append(
      h("h2", {}, `Run: ${detail.run.run}`),
      diagnosisCard(detail.run),
      h("h3", {}, "Symptom"),
      h(
        "div",
        { class: "charts" },
        symptomChart({
          title: "Output variance / target variance",
          lines: [{ label: "output/target variance", series: s[OUTPUT_VARIANCE_RATIO] }],
          band: detail.bands[OUTPUT_VARIANCE_RATIO],
          yAtLeast: 1,
          onset,
          endStep: detail.run.trained?.steps ?? null,
          width: chartWidth,
          dark: this.dark,
        }),
        symptomChart({
          title: "Relative error vs best rank-k error",
          lines: [
            { label: "relative error", series: s[RELATIVE_ERROR] },
            { label: "best rank-k", series: s[RANK_K_ERROR], dashed: true },
          ],
          band: detail.bands[RELATIVE_ERROR],
          yAtLeast: 1,
          onset,
          endStep: detail.run.trained?.steps ?? null,
          width: chartWidth,
          dark: this.dark,
        }),
        symptomChart({
          title: "Code effective rank",
          lines: [{ label: "effective rank", series: s[CODE_EFFECTIVE_RANK] }],
          band: detail.bands[CODE_EFFECTIVE_RANK],
          yAtLeast: detail.bands[CODE_EFFECTIVE_RANK]?.high ?? 1,
          onset,
          endStep: detail.run.trained?.steps ?? null,
          width: chartWidth,
          dark: this.dark,
        }),
      ),
      h("h3", {}, "Layers over steps"),
      layerView(detail, width, this.dark),
    );
  }

  private async loadDiff(): Promise<void> {
    const runs = [...this.state.compared];
    if (runs.length !== 2) {
      clear(this.diffBox);
      if (runs.length === 1) {
        this.diffBox.append(h("p", { class: "muted" }, `Pick one more run to diff with ${runs[0]}.`));
      }
      return;
    }
    try {
      const comparison = await fetchComparison(runs);
      if (this.state.compared.join("\n") !== runs.join("\n")) return;
      clear(this.diffBox);
      this.diffBox.append(h("h2", {}, `Diff: ${runs[0]} vs ${runs[1]}`), diffView(comparison.pairs[0]));
    } catch (error) {
      clear(this.diffBox);
      this.diffBox.append(h("p", { class: "error" }, `Could not compare: ${String(error)}`));
    }
  }

  private showMessage(text: string): void {
    this.message.textContent = text;
    this.message.style.display = text ? "block" : "none";
  }
}
