"""Where logs live: a local path, or a URL of an object store (``s3://``, ``gs://``, ...).

Teams share runs through buckets, and TensorBoard reads them there. aelog reaches a store
through fsspec, the ecosystem's own layer, with the store's package as an extra
(``pip install "aelog[s3]"`` brings s3fs). Credentials and endpoints come from each store's
standard environment variables and config files (``AWS_PROFILE``, ``AWS_ENDPOINT_URL``,
``GOOGLE_APPLICATION_CREDENTIALS``, ...), never from aelog's own options.
"""

from __future__ import annotations

import os
import re
from typing import Any

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
"""aelog's extra that installs the package a protocol needs."""


class StorageError(ValueError):
    """A URL aelog cannot reach: an unknown protocol, or its package is not installed."""


def protocol_of(path: str | os.PathLike) -> str | None:
    """``"s3"`` for ``s3://bucket/key``; None for a local path (``file://`` included)."""
    path = os.fspath(path)
    match = _URL.match(path) if isinstance(path, str) else None
    if match is None or match.group(1).lower() == "file":
        return None
    return match.group(1).lower()


def is_remote(path: str | os.PathLike) -> bool:
    return protocol_of(path) is not None


def local_path(path: str | os.PathLike) -> str:
    """A local path as the OS spells it (``file:///tmp/x`` -> ``/tmp/x``)."""
    path = os.fspath(path)
    if isinstance(path, str) and path.lower().startswith("file://"):
        return path[len("file://"):]
    return path


def join(base: str, *parts: str) -> str:
    """``base/part/...`` with exactly one ``/`` between (URLs always use ``/``)."""
    joined = base.rstrip("/")
    for part in parts:
        joined = f"{joined}/{part.strip('/')}"
    return joined


def filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)`` for a URL, or a :class:`StorageError`
    naming what to install."""
    protocol = protocol_of(url)
    if protocol is None:
        raise StorageError(f"{url} is not a URL")
    try:
        import fsspec
        from fsspec.registry import known_implementations
    except ImportError:
        raise StorageError(
            f"{url}: reading and writing URLs needs fsspec and the store's package; "
            f"{_install_hint(protocol)}") from None
    if protocol not in known_implementations and protocol not in fsspec.available_protocols():
        raise StorageError(
            f"{url}: unknown storage protocol '{protocol}://'; use a local path or a URL "
            "such as s3://bucket/dir or gs://bucket/dir.")
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError:
        raise StorageError(f"{url}: {_install_hint(protocol)}") from None
    return fs, path.rstrip("/")


def _install_hint(protocol: str) -> str:
    extra = EXTRAS.get(protocol)
    if extra is not None:
        return f"install it with: pip install \"aelog[{extra}]\""
    try:
        from fsspec.registry import known_implementations

        hint = known_implementations.get(protocol, {}).get("err")
    except ImportError:
        hint = None
    return hint or f"install the fsspec implementation for '{protocol}://'"
