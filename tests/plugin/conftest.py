"""Fixtures: a TensorBoard WSGI app over a logdir, in-process (no server, no browser)."""

from __future__ import annotations

import pytest
from aelog_tb_plugin.plugin import CollapseDiagnosisPlugin
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider as event_data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

PLUGIN_ROUTE = "/data/plugin/aelog"


class InProcessTensorBoard:
    """The Python loader, the data provider, our plugin and TensorBoard's WSGI app."""

    def __init__(self, logdir: str) -> None:
        self.multiplexer = plugin_event_multiplexer.EventMultiplexer()
        self.multiplexer.AddRunsFromDirectory(logdir)
        self.reload()
        provider = event_data_provider.MultiplexerDataProvider(self.multiplexer, logdir)
        context = base_plugin.TBContext(logdir=logdir, data_provider=provider)
        self.plugin = CollapseDiagnosisPlugin(context)
        app = application.TensorBoardWSGI([self.plugin], data_provider=provider)
        self.client = werkzeug_test.Client(app)

    def reload(self) -> None:
        self.multiplexer.Reload()

    def get(self, route: str, **query):
        return self.client.get(PLUGIN_ROUTE + route, query_string=query)

    def get_json(self, route: str, **query):
        response = self.get(route, **query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


@pytest.fixture
def tensorboard_app():
    return InProcessTensorBoard


@pytest.fixture(scope="session")
def sdk_logdir(tmp_path_factory) -> str:
    """Runs trained with aelog.watch (once per session) plus odd and broken directories."""
    from .sdk_runs import train_sdk_runs, write_odd_runs

    logdir = tmp_path_factory.mktemp("sdk_logdir")
    train_sdk_runs(str(logdir))
    write_odd_runs(str(logdir))
    return str(logdir)
