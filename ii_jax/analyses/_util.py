"""Small helpers shared by the analyses: the progress bar and the default PRNG key."""
from __future__ import annotations

import jax


def _progress(iterable, desc: str, progress: bool | None, total: int | None = None):
    if progress is False:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, disable=None if progress is None else not progress)


def _key(key, seed: int = 0):
    return jax.random.key(seed) if key is None else key
