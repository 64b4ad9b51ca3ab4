"""The run list as it stood when a client asked for its first page.

A client fetching a long list page by page must get pages of one list: the same runs in
the same order, whatever arrives in between, and without the plugin listing and sorting
every run again for each page (at 10,000 runs that was most of the tab's wait). The
first page's answer names its listing; later pages that name it are cut from it, and a
tab's poll asks what changed since it (``/runs?since=``).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict

KEPT = 64
"""listings kept at once. Each is a list of references to rows the plugin holds anyway (80
KB at 10,000 runs), and every open tab polls ``since`` the last one it got: with a few
kept, a sixth colleague's tab would push out the others' and each poll would read every
page again."""


class Listings:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._rows: OrderedDict[tuple[str, str], list[dict]] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, experiment_id: str, rows: list[dict]) -> str:
        """Keep ``rows`` (the newest listing; the oldest kept goes) and return its id."""
        with self._lock:
            listing = str(next(self._ids))
            self._rows[(experiment_id, listing)] = rows
            while len(self._rows) > self._kept:
                self._rows.popitem(last=False)
            return listing

    def get(self, experiment_id: str, listing: str) -> list[dict] | None:
        """The rows of a listing still kept, or None (then the client starts anew)."""
        with self._lock:
            return self._rows.get((experiment_id, listing))
