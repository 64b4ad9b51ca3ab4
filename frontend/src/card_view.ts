/** The diagnosis card: status badge, since step, each cause with confidence, evidence, fix. */

import { h } from "./dom";
import { causeLabel, percent, statusLabel, trainedText, verdictNotes } from "./format";
import type { RunRow } from "./types";

export function diagnosisCard(row: RunRow): HTMLElement {
  const since = row.since_step === null ? null : `since step ${row.since_step}`;
  const card = h(
    "section",
    { class: `card status-${row.status}`, "data-run": row.run },
    h(
      "header",
      { class: "card-head" },
      h("span", { class: `badge badge-${row.status}` }, statusLabel(row.status)),
      h("span", { class: "card-run" }, row.run),
      since && h("span", { class: "since" }, since),
    ),
  );
  if (Object.keys(row.tags).length) {
    card.append(
      h(
        "div",
        { class: "tags" },
        ...Object.entries(row.tags).map(([k, v]) => h("span", { class: "tag" }, `${k}: ${v}`)),
      ),
    );
  }
  if (row.symptom.length) {
    card.append(h("ul", { class: "symptom" }, ...row.symptom.map((s) => h("li", {}, s))));
  }
  const explained = row.causes.length ? [] : verdictNotes(row.notes);
  if (explained.length) {
    card.append(...explained.map((n) => h("p", { class: "verdict-note" }, n)));
  } else if (!row.causes.length) {
    const text = row.status === "healthy" ? "No cause of collapse found." : "No cause ranked.";
    card.append(h("p", { class: "muted" }, text));
  }
  row.causes.forEach((cause, index) => {
    card.append(
      h(
        "div",
        { class: "cause", "data-cause": cause.id },
        h(
          "div",
          { class: "cause-head" },
          h("span", { class: "rank" }, `#${index + 1}`),
          h("span", { class: "cause-id" }, causeLabel(cause.id)),
          h("code", { class: "cause-code" }, cause.id),
          h(
            "span",
            { class: "confidence", title: "confidence" },
            h("span", { class: "bar", style: `width:${Math.round(cause.confidence * 100)}%` }),
            h("span", { class: "confidence-text" }, percent(cause.confidence)),
          ),
          cause.since_step !== null && h("span", { class: "since" }, `from step ${cause.since_step}`),
        ),
        h("ul", { class: "evidence" }, ...cause.evidence.map((e) => h("li", {}, e))),
        h("div", { class: "fix" }, h("strong", {}, "Fix: "), cause.fix),
      ),
    );
  });
  const trained = trainedText(row);
  if (trained) card.append(h("p", { class: "muted trained" }, trained));
  const notes = [...row.notes, ...row.problems.filter((p) => !row.notes.includes(p))].filter(
    (n) => !explained.includes(n),
  );
  if (notes.length) {
    card.append(
      h(
        "details",
        { class: "notes" },
        h("summary", {}, `Limits of this verdict (${notes.length})`),
        h("ul", {}, ...notes.map((n) => h("li", {}, n))),
      ),
    );
  }
  return card;
}
