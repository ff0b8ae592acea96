"""Analysis results as JSON-ready Python values."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["to_json"]


def to_json(result) -> dict:
    """A result (NamedTuple of arrays) as JSON-ready Python values; NaN becomes ``None``."""
    def conv(v):
        if isinstance(v, np.ndarray):
            return conv(v.tolist())
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (float, np.floating)):
            return None if not np.isfinite(v) else float(v)
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, Path):
            return str(v)
        return v

    if hasattr(result, "_asdict"):
        return {name: to_json(v) for name, v in result._asdict().items()}
    if isinstance(result, dict):
        return {str(k): to_json(v) for k, v in result.items()}
    return conv(result)
