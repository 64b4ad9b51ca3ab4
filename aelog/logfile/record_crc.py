"""TFRecord's masked CRC32C, shared by the event writer and reader.

The C ``google_crc32c`` (a dependency) makes it cheap enough to check every record's data
when reading; TensorBoard's pure-Python version (~1 s per 10 MB) is the fallback, and
then the reader checks only the 8-byte length headers.
"""

from __future__ import annotations

try:
    from google_crc32c import value as _crc32c

    FAST = True
except ImportError:  # pragma: no cover - depends on the environment
    FAST = False


def _mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


if FAST:

    def masked_crc32c(data: bytes) -> int:
        """Same value as TensorBoard's ``masked_crc32c``."""
        return _mask(_crc32c(bytes(data)))

else:  # pragma: no cover
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c  # noqa: F401
