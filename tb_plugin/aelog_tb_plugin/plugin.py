"""The Collapse Diagnosis plugin: thin routes over the run cache, the engine and compare.

Every route answers JSON through ``http_util.Respond``. Bad or missing query parameters
raise ``InvalidArgumentError`` (400), an unknown run ``NotFoundError`` (404); TensorBoard
turns both into plain-text answers. See http_api.md for the shapes.
"""

from __future__ import annotations

import logging
import threading

from tensorboard import errors, plugin_util
from tensorboard.backend import http_util
from tensorboard.context import RequestContext
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from aelog.logfile import format as fmt
from aelog_tb_plugin import views
from aelog_tb_plugin.listings import Listings
from aelog_tb_plugin.run_cache import RunCache
from aelog_tb_plugin.static_files import read_static

logger = logging.getLogger(__name__)

TAB_NAME = "Collapse Diagnosis"
MAX_COMPARED_RUNS = 20
MAX_RUN_NAME_CHARS = 4096
"""longer than any path a filesystem allows: refused before any lookup or echo."""
WARM_INTERVAL_S = 15.0
"""how often the background warmer re-diagnoses runs that received new data."""


class CollapseDiagnosisPlugin(base_plugin.TBPlugin):
    plugin_name = fmt.PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext, warm_cache: bool = False) -> None:
        self._data = context.data_provider
        self._cache = RunCache()
        self._listings = Listings()
        self._rows: dict[tuple[str, str], tuple] = {}
        """each run's row beside the cache entry it was made from."""
        self._stop = threading.Event()
        if warm_cache and self._data is not None:
            threading.Thread(target=self._warm, name="aelog-warm-cache", daemon=True).start()

    def get_plugin_apps(self):
        return {
            "/index.js": self._static_route,
            "/runs": self._runs_route,
            "/run": self._run_route,
            "/compare": self._compare_route,
        }

    def is_active(self) -> bool:
        return False  # data_plugin_names() against list_plugins() decides, cheaply

    def data_plugin_names(self):
        return (fmt.PLUGIN_NAME,)

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name=TAB_NAME)

    def stop(self) -> None:
        """Stop the background warmer (tests and embedders; TensorBoard never calls it)."""
        self._stop.set()

    # -- logic -------------------------------------------------------------------------

    def runs_impl(self, ctx, experiment_id: str, offset: int = 0,
                  limit: int | None = None, listing: str | None = None,
                  since: str | None = None) -> dict:
        """The run list, or one page of it (``offset``, ``limit``) with the ``total``; a
        page of the ``listing`` an earlier answer named, while it is kept, else of a new
        one (the answer names which: a client that gets another listing starts over).
        ``since``: a listing the client holds whole; while it is kept, the answer is what
        changed from it (see :meth:`_changes`), else a first page like any other."""
        if since is not None:
            held = self._listings.get(experiment_id, since)
            if held is not None:
                return self._changes(since, held, *self._list(ctx, experiment_id))
        rows = None if listing is None else self._listings.get(experiment_id, listing)
        if rows is None:
            rows, listing = self._list(ctx, experiment_id)
        page = rows[offset:] if limit is None else rows[offset:offset + limit]
        return {"runs": page, "total": len(rows), "offset": offset, "listing": listing}

    def _list(self, ctx, experiment_id: str) -> tuple[list[dict], str]:
        """Every run's row as it stands now, kept as a new listing; and its id."""
        entries = self._cache.refresh(self._data, ctx, experiment_id)
        rows = [self._row(experiment_id, name, entry) for name, entry in entries.items()]
        for key in [k for k in self._rows if k[0] == experiment_id and k[1] not in entries]:
            del self._rows[key]
        return rows, self._listings.add(experiment_id, rows)

    @staticmethod
    def _changes(since: str, held: list[dict], rows: list[dict], listing: str) -> dict:
        """From the listing a client holds to the new one: the rows made since (a run's row
        is made again only when the run changed, so an unchanged run's row is the very
        object the held listing has) and the runs gone. A tab that polls a logdir of
        thousands of finished runs gets a few rows, not every page again."""
        before = {row["run"]: row for row in held}
        now = {row["run"] for row in rows}
        return {
            "since": since,
            "listing": listing,
            "changed": [row for row in rows if before.get(row["run"]) is not row],
            "removed": [name for name in before if name not in now],
            "total": len(rows),
        }

    def _row(self, experiment_id: str, name: str, entry) -> dict:
        """A run's row, made again only when its cache entry changed."""
        key = (experiment_id, name)
        made = self._rows.get(key)
        if made is None or made[0] is not entry:
            made = self._rows[key] = (entry, views.run_row(entry))
        return made[1]

    def run_impl(self, ctx, experiment_id: str, run: str) -> dict:
        return views.run_detail(self._cache.get(self._data, ctx, experiment_id, run))

    def compare_impl(self, ctx, experiment_id: str, runs: list[str]) -> dict:
        entries = self._cache.with_series(self._data, ctx, experiment_id, runs)
        return views.comparison([entries[name].run for name in runs])

    # -- routes ------------------------------------------------------------------------

    @wrappers.Request.application
    def _static_route(self, request):
        content, content_type = read_static("index.js")
        return http_util.Respond(request, content, content_type)

    @wrappers.Request.application
    def _runs_route(self, request):
        ctx, eid = _context(request)
        offset = _count(request, "offset", 0)
        limit = _count(request, "limit", None)
        listing, since = _listing(request, "listing"), _listing(request, "since")
        return http_util.Respond(
            request, self.runs_impl(ctx, eid, offset, limit, listing, since),
            "application/json")

    @wrappers.Request.application
    def _run_route(self, request):
        ctx, eid = _context(request)
        run = _one_run(request)
        return http_util.Respond(request, self.run_impl(ctx, eid, run), "application/json")

    @wrappers.Request.application
    def _compare_route(self, request):
        ctx, eid = _context(request)
        runs = request.args.getlist("run")
        if len(runs) < 2 or len(set(runs)) != len(runs) or not all(runs):
            raise errors.InvalidArgumentError(
                "compare needs at least two different runs: ?run=A&run=B"
            )
        if len(runs) > MAX_COMPARED_RUNS:
            raise errors.InvalidArgumentError(
                f"compare takes at most {MAX_COMPARED_RUNS} runs, got {len(runs)}"
            )
        runs = [_checked_name(name) for name in runs]
        return http_util.Respond(request, self.compare_impl(ctx, eid, runs), "application/json")

    def _warm(self) -> None:
        """Keep every run's diagnosis fresh, so opening the tab does not wait for it."""
        while not self._stop.wait(0.5):
            try:
                self._cache.refresh(self._data, RequestContext(), "")
            except Exception:  # the loader may not be ready yet; the next round retries
                logger.debug("aelog: warming the diagnosis cache failed", exc_info=True)
            if self._stop.wait(WARM_INTERVAL_S):
                return


def _context(request) -> tuple[RequestContext, str]:
    return plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)


def _digits(request, name: str, longest: int, what: str) -> str | None:
    """A query parameter given once as ASCII digits (at most ``longest``), or None when
    absent; anything else is a 400 saying it must be ``what``."""
    values = request.args.getlist(name)
    if not values:
        return None
    value = values[0]
    if len(values) > 1 or not (value.isascii() and value.isdigit()) or len(value) > longest:
        raise errors.InvalidArgumentError(f"{name} must be {what}, got {values[:2]!r}")
    return value


def _listing(request, name: str) -> str | None:
    """A listing id an earlier answer gave (a page's ``listing``, a poll's ``since``), or
    a 400 naming the parameter."""
    return _digits(request, name, 18, "one id from an earlier /runs answer")


def _count(request, name: str, default: int | None) -> int | None:
    """A non-negative integer query parameter, or a 400 naming it."""
    value = _digits(request, name, 9, "one non-negative integer")
    return default if value is None else int(value)


def _one_run(request) -> str:
    runs = request.args.getlist("run")
    if len(runs) != 1 or not runs[0]:
        raise errors.InvalidArgumentError("give exactly one run: ?run=NAME")
    return _checked_name(runs[0])


def _checked_name(name: str) -> str:
    if len(name) > MAX_RUN_NAME_CHARS:
        raise errors.InvalidArgumentError(
            f"run name of {len(name)} characters is too long (at most {MAX_RUN_NAME_CHARS})"
        )
    return name
