"""Runs grouped by team: the cross-team overview of the report and the tab.

A run's team is its ``team`` tag, or else the first level of its path in the logdir
(``vision/exp1`` belongs to ``vision``), as teams usually lay out a shared bucket.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from aelog.diagnosis.types import AT_RISK, COLLAPSED, HEALTHY, Diagnosis

TEAM_TAG = "team"
NO_TEAM = "(no team)"
STATUS_ORDER = (HEALTHY, AT_RISK, COLLAPSED)
NO_CAUSE = "no cause among the 15"
"""where a run at risk or collapsed with no cause named is counted."""


def team_of(run_name: str, tags: dict[str, str]) -> str:
    team = tags.get(TEAM_TAG)
    if team:
        return team
    return run_name.split("/", 1)[0] if "/" in run_name else NO_TEAM


@dataclass
class TeamSummary:
    team: str
    runs: list[int] = field(default_factory=list)
    """indexes of the team's runs in the list summarised."""
    statuses: Counter = field(default_factory=Counter)
    causes: dict[str, list[int]] = field(default_factory=dict)
    """top cause of each run at risk or collapsed (or NO_CAUSE) -> those runs, most frequent
    first."""


def team_overview(diagnoses: list[Diagnosis]) -> list[TeamSummary]:
    """One summary per team, teams by name (runs without one last)."""
    teams: dict[str, TeamSummary] = {}
    for index, diagnosis in enumerate(diagnoses):
        name = team_of(diagnosis.run, diagnosis.tags)
        summary = teams.setdefault(name, TeamSummary(name))
        summary.runs.append(index)
        summary.statuses[diagnosis.status] += 1
        if diagnosis.status != HEALTHY:
            cause = diagnosis.causes[0].id if diagnosis.causes else NO_CAUSE
            summary.causes.setdefault(cause, []).append(index)
    for summary in teams.values():
        summary.causes = dict(sorted(summary.causes.items(), key=lambda kv: (-len(kv[1]), kv[0])))
    return sorted(teams.values(), key=lambda s: (s.team == NO_TEAM, s.team))
