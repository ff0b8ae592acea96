"""ii-jax: Information Imbalance between deep representations, in JAX.

The public surface is re-exported here; implementation lives in modules named for what they do. ``import ii_jax``
is light: nothing below is imported until it is first used (PEP 562), so ``import ii_jax.store`` (the NumPy-only
shard-store contract, which the torch extraction layer uses) loads neither jax nor matplotlib. ``ii_jax.NAME``
and ``from ii_jax import NAME`` import the submodule that defines ``NAME`` on first access; any submodule
(``ii_jax.binary``, ``ii_jax.windows``, ...) is reachable as an attribute the same way.

Examples:
  >>> import types
  >>> import ii_jax
  >>> callable(ii_jax.information_imbalance)
  True
  >>> isinstance(ii_jax.bid, types.ModuleType), ii_jax.bid.__name__, callable(ii_jax.bid_from_bits)
  (True, 'ii_jax.bid', True)
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the submodule that defines it. A name equal to its submodule's last part is the module itself.
_LAZY = {
    "binarize": "ii_jax.binary",
    "pack_bits": "ii_jax.binary",
    "unpack_bits": "ii_jax.binary",
    "float_distances": "ii_jax.distances",
    "hamming_distances": "ii_jax.distances",
    "Imbalance": "ii_jax.imbalance",
    "imbalance_from_distances": "ii_jax.imbalance",
    "information_imbalance": "ii_jax.imbalance",
    "pointwise_imbalance": "ii_jax.imbalance",
    "core": "ii_jax.core",
    "Estimate": "ii_jax.resample",
    "bootstrap": "ii_jax.resample",
    "jackknife": "ii_jax.resample",
    "shuffled_null": "ii_jax.resample",
    "PairedDifference": "ii_jax.resample",
    "paired_difference": "ii_jax.resample",
    "direction_difference": "ii_jax.resample",
    "NullDistribution": "ii_jax.null",
    "permutation_null": "ii_jax.null",
    "permutation_null_from_distances": "ii_jax.null",
    "cka": "ii_jax.baselines",
    "mutual_knn": "ii_jax.baselines",
    "BIDJackknife": "ii_jax.bid",
    "BIDProfile": "ii_jax.bid",
    "BIDResult": "ii_jax.bid",
    "bid": "ii_jax.bid",  # the module
    "bid_from_bits": "ii_jax.bid",
    "bid_from_histogram": "ii_jax.bid",
    "bid_jackknife": "ii_jax.bid",
    "bid_profile": "ii_jax.bid",
    "bid_profile_store": "ii_jax.bid",
    "hamming_histogram": "ii_jax.bid",
    "plot_bid_profile": "ii_jax.bid",
    "subsample_histograms": "ii_jax.bid",
    "flax_capture": "ii_jax.flax_capture",
    "synthetic": "ii_jax.synthetic",
    "dii": "ii_jax.dii",
    "parallel": "ii_jax.parallel",
    "analyses": "ii_jax.analyses",
    "plots": "ii_jax.plots",
    "layer_profile": "ii_jax.analyses",
    "semantic_layers": "ii_jax.analyses",
}

__all__ = list(_LAZY)

if TYPE_CHECKING:  # what static tools see; at run time the names below are resolved by __getattr__
    from ii_jax import analyses, bid, core, dii, flax_capture, parallel, plots, synthetic  # noqa: F401
    from ii_jax.analyses import layer_profile, semantic_layers  # noqa: F401
    from ii_jax.baselines import cka, mutual_knn  # noqa: F401
    from ii_jax.bid import (BIDJackknife, BIDProfile, BIDResult, bid_from_bits, bid_from_histogram,  # noqa: F401
                            bid_jackknife, bid_profile, bid_profile_store, hamming_histogram, plot_bid_profile,
                            subsample_histograms)
    from ii_jax.binary import binarize, pack_bits, unpack_bits  # noqa: F401
    from ii_jax.distances import float_distances, hamming_distances  # noqa: F401
    from ii_jax.imbalance import (Imbalance, imbalance_from_distances, information_imbalance,  # noqa: F401
                                  pointwise_imbalance)
    from ii_jax.null import NullDistribution, permutation_null, permutation_null_from_distances  # noqa: F401
    from ii_jax.resample import (Estimate, PairedDifference, bootstrap, direction_difference, jackknife,  # noqa: F401
                                 paired_difference, shuffled_null)


def __getattr__(name: str) -> Any:
    """Import on first access: a public name from its submodule, or a submodule by its name."""
    target = _LAZY.get(name)
    if target is not None:
        module = importlib.import_module(target)
        value = module if target == f"{__name__}.{name}" else getattr(module, name)
        globals()[name] = value
        return value
    if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # importing binds it as an attribute
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
