"""The peers are optional: import each if it is installed and say why where one is not.

Neither wandb nor Cockpit is a dependency of aelog; the benchmark measures whichever is
installed (``pip install wandb cockpit-for-pytorch``) and reports the import error of the
others.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import tempfile
import types
from dataclasses import dataclass, field


@dataclass
class PeerStatus:
    name: str
    version: str | None = None
    error: str | None = None
    """the error line when the peer cannot be used at all."""
    notes: list[str] = field(default_factory=list)
    """workarounds applied so it runs (each said in the report)."""

    @property
    def available(self) -> bool:
        return self.error is None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _error_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0]


def wandb_status() -> PeerStatus:
    status = PeerStatus("wandb", _version("wandb"))
    try:
        configure_wandb_offline()
        importlib.import_module("wandb")
    except Exception as error:  # noqa: BLE001 - any failure means "not measured, here is why"
        status.error = _error_line(error)
    return status


def configure_wandb_offline() -> None:
    """Offline, silent, files in a temporary directory: nothing leaves the machine."""
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"
    os.environ.setdefault("WANDB_DIR", tempfile.mkdtemp(prefix="aelog-bench-wandb-"))
    os.environ.setdefault("WANDB_CONSOLE", "off")


def cockpit_status() -> PeerStatus:
    """Cockpit 1.0.2 imports ``pkg_resources``, which setuptools 81+ no longer ships.

    Where that is the only problem, a stand-in module answering the one call Cockpit makes
    (its own version number) lets it run, and the report says so.
    """
    status = PeerStatus("cockpit", _version("cockpit-for-pytorch"))
    try:
        importlib.import_module("cockpit")
    except ModuleNotFoundError as error:
        if error.name != "pkg_resources":
            status.error = _error_line(error)
            return status
        status.notes.append(
            f"`import cockpit` fails as installed ({_error_line(error)}; setuptools 81+ "
            "dropped pkg_resources); measured with a stand-in pkg_resources module"
        )
        sys.modules["pkg_resources"] = _pkg_resources_stand_in()
        try:
            importlib.import_module("cockpit")
        except Exception as second:  # noqa: BLE001
            status.error = _error_line(second)
    except Exception as error:  # noqa: BLE001
        status.error = _error_line(error)
    return status


def _pkg_resources_stand_in() -> types.ModuleType:
    module = types.ModuleType("pkg_resources")

    class DistributionNotFound(Exception):
        pass

    def get_distribution(name: str):
        version = _version(name)
        if version is None:
            raise DistributionNotFound(name)
        return types.SimpleNamespace(version=version)

    module.DistributionNotFound = DistributionNotFound
    module.get_distribution = get_distribution
    return module
