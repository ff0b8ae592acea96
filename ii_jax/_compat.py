"""Deprecated spellings kept for one release: renamed keyword arguments and renamed functions."""
from __future__ import annotations

import functools
import warnings

__all__ = ["renamed_kwargs"]


def renamed_kwargs(**old_to_new: str):
    """Decorator: accept each old keyword name for the new one, with a ``DeprecationWarning``.

    Examples:
      >>> import warnings
      >>> @renamed_kwargs(n_reps="repeats")
      ... def f(*, repeats=1):
      ...     return repeats
      >>> with warnings.catch_warnings(record=True) as w:
      ...     warnings.simplefilter("always")
      ...     f(n_reps=3), w[0].category.__name__
      (3, 'DeprecationWarning')
    """
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}: got both {new}= and its deprecated name {old}=; pass {new}=.")
                    warnings.warn(f"{fn.__name__}({old}=...) is deprecated: use {new}=...", DeprecationWarning,
                                  stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
