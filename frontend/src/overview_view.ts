/** The cross-team overview: one line per team, its counts, its top causes as links. */

import { h } from "./dom";
import { statusLabel } from "./format";
import { NO_CAUSE, type TeamOverview } from "./overview_logic";

const STATUSES = ["collapsed", "at_risk", "healthy", "unknown"];

export function overviewView(
  teams: TeamOverview[],
  pick: (filter: string) => void,
): HTMLElement {
  const link = (text: string, filter: string, cls: string) => {
    if (!filter) return h("span", { class: cls }, text);
    const button = h("button", { type: "button", class: `link ${cls}`, "data-filter": filter }, text);
    button.addEventListener("click", () => pick(filter));
    return button;
  };
  const lines = teams.map((team) => {
    const counts = STATUSES.filter((s) => team.counts[s]).map((s) =>
      h("span", { class: `badge-text-${s}` }, `${team.counts[s]} ${statusLabel(s)}`),
    );
    const causes = team.causes.map((c) =>
      link(`${c.id === NO_CAUSE ? "no cause named" : c.id} (${c.count})`, c.filter, "cause-link"),
    );
    return h(
      "li",
      { class: "team-line", "data-team": team.name },
      link(team.name, team.filter, "team-link"),
      h("span", { class: "muted" }, ` ${team.runs} run${team.runs === 1 ? "" : "s"}: `),
      ...join(counts, ", "),
      causes.length ? h("span", { class: "muted" }, " · top causes: ") : null,
      ...join(causes, ", "),
      team.moreCauses ? h("span", { class: "muted" }, `, ${team.moreCauses} more`) : null,
    );
  });
  return h("ul", { class: "overview" }, ...lines);
}

function join(items: HTMLElement[], separator: string): (HTMLElement | string)[] {
  return items.flatMap((item, i) => (i ? [separator, item] : [item]));
}
