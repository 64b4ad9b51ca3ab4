"""The built front end, served from an explicit allowlist (no path ever reaches the disk)."""

from __future__ import annotations

import os

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
ALLOWED = {"index.js": "text/javascript"}
"""file name -> content type; everything the tab loads is bundled into index.js."""


class MissingBundleError(RuntimeError):
    """The package was installed without its built front end."""


def read_static(name: str) -> tuple[bytes, str]:
    """Contents and type of an allowlisted file; ``KeyError`` for any other name."""
    content_type = ALLOWED[name]
    path = os.path.join(STATIC_DIR, name)
    try:
        with open(path, "rb") as handle:
            return handle.read(), content_type
    except FileNotFoundError as error:
        raise MissingBundleError(
            f"{path} is missing: build the front end (cd frontend && npm run build)"
        ) from error
