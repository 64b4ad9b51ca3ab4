"""The demo's data: scikit-learn's bundled 8x8 digits, so nothing downloads."""

from __future__ import annotations

import numpy as np


def load_digit_images() -> np.ndarray:
    """1797 digits as float32 rows of 64 pixels scaled to [0, 1]."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "the demo needs scikit-learn: pip install 'aelog[demo]'"
        ) from error
    images = load_digits().data.astype(np.float32)
    return images / 16.0
