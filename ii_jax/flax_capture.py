"""Per-layer Information Imbalance (and BID) profiles of Flax models, without leaving JAX.

Give a Flax model, two batches of paired inputs (item ``i`` of batch A goes with item ``i`` of batch B) and,
for linen, its variables. Every layer's activations are collected in one forward pass per batch
(linen ``capture_intermediates``; nnx ``sow``-ed ``nnx.Intermediate`` values, or every submodule's output
through ``nnx.capture``), reduced to one vector per item, sign-binarised and bit-packed (or kept as floats),
and compared layer by layer with :func:`ii_jax.information_imbalance`.

Flax is optional: it is imported only when these functions run, so ``import ii_jax`` works without it
(``pip install ii-jax[flax]``).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["LayerProfile", "capture_activations", "layer_features", "flax_layer_profile"]


class LayerProfile(NamedTuple):
    """Per-layer comparison of two paired batches. Arrays are ``[n_layers]``.

    Attributes:
      names: layer names (paths in the model), in capture order.
      x_to_y: Δ(A→B) per layer.
      y_to_x: Δ(B→A) per layer.
      n_features: features (bits for Hamming) per item in each layer.
      bid_fraction: BID / n_bits of batch A per layer (NaN where the fit failed), or None if not asked.
    """

    names: list
    x_to_y: np.ndarray
    y_to_x: np.ndarray
    n_features: np.ndarray
    bid_fraction: np.ndarray | None


def _import_flax():
    try:
        import flax  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("ii_jax.flax_capture needs Flax: pip install 'ii-jax[flax]' (or pip install flax).") from err


def _batch_size(inputs: Any) -> int:
    leaves = jax.tree_util.tree_leaves(inputs)
    if not leaves or np.ndim(leaves[0]) == 0:
        raise ValueError("inputs must hold at least one array with a leading batch axis.")
    return int(np.shape(leaves[0])[0])


def _walk_linen(tree: Any, prefix: str, out: dict) -> None:
    """Flatten linen's intermediates in insertion (= call) order; ``__call__`` tuples get ``[i]`` if repeated."""
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, tuple):
            for i, item in enumerate(value):
                out[name if len(value) == 1 else f"{name}[{i}]"] = item
        elif hasattr(value, "items"):
            _walk_linen(value, name, out)
        else:
            out[name] = value


def capture_activations(
    model: Any,
    inputs: Any,
    *,
    variables: Any = None,
    capture: bool | Callable | None = None,
) -> dict[str, jax.Array]:
    """Run ``model`` on ``inputs`` once and return every captured layer output.

    Args:
      model: a ``flax.linen.Module`` (then ``variables`` is required) or a ``flax.nnx.Module``.
      inputs: the model's input (an array or a pytree of arrays) with a leading batch axis ``[B, ...]``.
      variables: linen variables (``model.init(...)``).
      capture: linen: ``True`` (every submodule's ``__call__``, the default) or a filter
        ``fn(module, method_name) -> bool``, as ``capture_intermediates`` takes. nnx: ``None`` (the
        ``nnx.Intermediate`` values the model ``sow``-s; if it sows none, the output of every submodule
        method) or ``True`` (always every submodule method).

    Returns:
      ``{name: array [B, ...]}`` in call order (linen) or graph order (nnx); values without the leading batch
      axis ``B`` are dropped. The model's final output is included for linen (name ``"__call__"``).

    Raises:
      ValueError: linen model without ``variables``, or inputs without a batch axis.
      TypeError: ``model`` is not a Flax module.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import flax.linen as nn
      >>> from ii_jax.flax_capture import capture_activations
      >>> mlp = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(4)])
      >>> x = jnp.ones((3, 5))
      >>> acts = capture_activations(mlp, x, variables=mlp.init(jax.random.key(0), x))
      >>> {name: a.shape for name, a in acts.items()}
      {'layers_0/__call__': (3, 8), 'layers_2/__call__': (3, 4), '__call__': (3, 4)}
    """
    _import_flax()
    import flax.linen as nn
    from flax import nnx

    b = _batch_size(inputs)
    out: dict[str, jax.Array] = {}
    if isinstance(model, nn.Module):
        if variables is None:
            raise ValueError("capture_activations: a linen model needs its variables (model.init(...)).")
        flag = True if capture is None else capture
        _, state = model.apply(variables, inputs, capture_intermediates=flag, mutable=["intermediates"])
        _walk_linen(state.get("intermediates", {}), "", out)
    elif isinstance(model, nnx.Module):
        flat = getattr(nnx, "to_flat_state", lambda state: state.flat_state())
        _, sown = nnx.capture(model, nnx.Intermediate)(inputs)
        if capture is not None or len(flat(sown)) == 0:
            _, sown = nnx.capture(model, nnx.Intermediate, method_outputs=nnx.Intermediate)(inputs)
        for path, var in flat(sown):
            value = var.get_value() if hasattr(var, "get_value") else var
            name = "/".join(str(p) for p in path)
            items = value if isinstance(value, tuple) else (value,)
            for i, item in enumerate(items):
                out[name if len(items) == 1 else f"{name}[{i}]"] = item
    else:
        raise TypeError(f"capture_activations: model must be a flax.linen or flax.nnx Module, got {type(model).__name__}.")
    return {name: a for name, a in out.items() if hasattr(a, "shape") and a.ndim >= 1 and a.shape[0] == b}


def layer_features(acts: jax.typing.ArrayLike, *, tokens: str | int = "all") -> jax.Array:
    """One vector per item from a layer output ``[B, ...]``.

    Args:
      acts: ``[B, E]``, or ``[B, T, ...]`` with tokens (or patches) on axis 1.
      tokens: for ``[B, T, ...]``: ``"all"`` concatenates every token, ``"last"`` keeps the last one, ``"mean"``
        averages them, an int ``k`` concatenates the last ``k`` (DESIGN §3 token windows).

    Returns:
      ``[B, F]`` float array.

    Examples:
      >>> import jax.numpy as jnp
      >>> from ii_jax.flax_capture import layer_features
      >>> a = jnp.arange(12.0).reshape(1, 3, 4)
      >>> layer_features(a, tokens=2).tolist()
      [[4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]]
    """
    a = jnp.asarray(acts)
    if a.ndim < 2:
        raise ValueError(f"layer_features: acts must be [B, ...] with at least one feature axis, got shape {a.shape}.")
    if a.ndim >= 3:
        if tokens == "all":
            pass
        elif tokens == "last":
            a = a[:, -1]
        elif tokens == "mean":
            a = jnp.mean(a, axis=1)
        elif isinstance(tokens, (int, np.integer)) and not isinstance(tokens, bool) and 1 <= tokens <= a.shape[1]:
            a = a[:, a.shape[1] - int(tokens) :]
        else:
            raise ValueError(
                f"layer_features: tokens must be 'all', 'last', 'mean' or an int in [1, {a.shape[1]}], got {tokens!r}."
            )
    return a.reshape(a.shape[0], -1).astype(jnp.promote_types(a.dtype, jnp.float32))


def _select(names: list[str], layers: Sequence[str] | Callable[[str], bool] | None) -> list[str]:
    if layers is None:
        return names
    if callable(layers):
        return [n for n in names if layers(n)]
    missing = [n for n in layers if n not in names]
    if missing:
        raise ValueError(f"flax_layer_profile: layers {missing} were not captured; captured: {names}.")
    return list(layers)


def flax_layer_profile(
    model: Any,
    inputs_a: Any,
    inputs_b: Any,
    *,
    variables: Any = None,
    capture: bool | Callable | None = None,
    layers: Sequence[str] | Callable[[str], bool] | None = None,
    tokens: str | int = "all",
    metric: str = "hamming",
    k: int = 1,
    bid: bool = False,
    alpha_min: float = 0.0,
    alpha_max: float = 0.2,
) -> LayerProfile:
    """Information Imbalance between two paired batches at every layer of a Flax model.

    Both batches go through the same model; at each captured layer, the representations of batch A and of
    batch B are compared: Δ(A→B) and Δ(B→A) (both from one pass). With ``metric="hamming"`` the features
    are sign-binarised and bit-packed first (the paper's setting).

    Args:
      model: ``flax.linen.Module`` (with ``variables``) or ``flax.nnx.Module``.
      inputs_a: batch A, ``[N, ...]``.
      inputs_b: batch B, ``[N, ...]``, item ``i`` paired with item ``i`` of A.
      variables: linen variables.
      capture: what to capture (see :func:`capture_activations`).
      layers: names to keep (in that order), a predicate on names, or None for all captured layers.
      tokens: token summary per layer (see :func:`layer_features`).
      metric: ``"hamming"`` (binarised), ``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"``.
      k: neighbours for the Information Imbalance.
      bid: also fit the BID of batch A's binarised representation at each layer (as ``BID / n_bits``).
      alpha_min: BID lower quantile.
      alpha_max: BID upper quantile.

    Returns:
      :class:`LayerProfile`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import flax.linen as nn
      >>> from ii_jax.flax_capture import flax_layer_profile
      >>> mlp = nn.Sequential([nn.Dense(64), nn.tanh, nn.Dense(64)])
      >>> a = jax.random.normal(jax.random.key(0), (100, 16))
      >>> b = a + 0.1 * jax.random.normal(jax.random.key(1), (100, 16))
      >>> prof = flax_layer_profile(mlp, a, b, variables=mlp.init(jax.random.key(2), a))
      >>> prof.names
      ['layers_0/__call__', 'layers_2/__call__', '__call__']
      >>> bool(max(prof.x_to_y) < 0.5)
      True
    """
    from ii_jax import information_imbalance  # the core engine
    from ii_jax.binary import binarize, pack_bits
    from ii_jax.bid import bid_from_histogram, hamming_histogram

    n_a, n_b = _batch_size(inputs_a), _batch_size(inputs_b)
    if n_a != n_b:
        raise ValueError(f"flax_layer_profile: inputs_a and inputs_b must pair item by item, got batches of {n_a} and {n_b}.")
    acts_a = capture_activations(model, inputs_a, variables=variables, capture=capture)
    acts_b = capture_activations(model, inputs_b, variables=variables, capture=capture)
    names = _select([n for n in acts_a if n in acts_b], layers)
    if not names:
        raise ValueError("flax_layer_profile: no layer was captured (or selected).")
    xy, yx, width = [], [], []
    fits = []
    for name in names:
        fa, fb = layer_features(acts_a[name], tokens=tokens), layer_features(acts_b[name], tokens=tokens)
        width.append(fa.shape[1])
        if metric == "hamming":
            xa, xb = pack_bits(binarize(fa)), pack_bits(binarize(fb))
        else:
            xa, xb = fa, fb
        r = information_imbalance(xa, xb, metric=metric, k=k)
        xy.append(r.x_to_y)
        yx.append(r.y_to_x)
        if bid:
            words = xa if metric == "hamming" else pack_bits(binarize(fa))
            fits.append(np.asarray(hamming_histogram(words, fa.shape[1])))
    bid_fraction = None
    if bid:
        size = max(len(c) for c in fits)
        padded = np.stack([np.pad(c, (0, size - len(c))) for c in fits])  # one batched fit for all layers
        res = bid_from_histogram(padded, alpha_min=alpha_min, alpha_max=alpha_max)
        bid_fraction = np.where(np.asarray(res.converged), np.asarray(res.d0, np.float64) / np.asarray(width), np.nan)
    return LayerProfile(names, np.asarray(xy), np.asarray(yx), np.asarray(width), bid_fraction)
