"""Learning the weights of space A by gradient descent on the DII: one compiled program for the whole training.

The training follows DADApy 0.3.4's ``DiffImbalance.train`` step for step, so its hyper-parameters and training
curves carry over: after every optimiser step the weights are rescaled to the norm of ``weights_init`` (the DII
does not depend on a common scale of the weights); the L1 penalty is a proximal step (soft thresholding by the
current learning rate times ``l1``, "GD clipping") followed by the same rescaling; the neighbour order that sets
λ decays from ``k_init`` to ``k_final`` by a cosine over the training steps (rounded to an integer), which is the
λ schedule; mini-batches (``batches > 1``) split a random permutation of the points into ``batches`` equal parts
each epoch, and each part is ranked again among its own points (:func:`~ii_jax.dii.rerank`).

The whole loop is one ``lax.scan`` inside ``jax.jit``, compiled once per shapes and settings; each step's loss
and gradient are computed by row blocks (:mod:`~ii_jax.dii.loss`), so memory stays ``O(block · N · width)``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from ii_jax.dii import loss as _loss
from ii_jax.dii.ranks import doubled_midranks

__all__ = ["DIIResult", "train", "OPTIMIZERS", "LR_DECAYS"]

OPTIMIZERS = ("sgd", "adam", "adamw")
LR_DECAYS = (None, "cos", "exp")


class DIIResult(NamedTuple):
    """A DII training.

    Attributes:
      weights: ``[P]``, the final weights (absolute values, as DADApy reports them).
      weights_path: ``[epochs + 1, P]``, the absolute weights after each epoch (row 0: ``weights_init``).
      dii_path: ``[epochs + 1]``, the DII of each epoch as DADApy records it: the loss of the epoch's last step,
        computed before that step's update (row 0: the initial weights, on the first ``N / batches`` points).
      dii: the DII at the final weights on all rows, with λ from neighbour ``ceil(k_final · batches)`` (the same
        k/N as in training). Wild et al.'s normalisation ``2 / (R N)``; times ``N / (N − 1)`` it is on the scale of
        the exact Δ.
      n: the number of points N.
      params: the settings used.
    """

    weights: np.ndarray
    weights_path: np.ndarray
    dii_path: np.ndarray
    dii: float
    n: int
    params: dict


def _schedule(learning_rate, lr_decay, steps: int) -> Callable:
    if callable(learning_rate):
        if lr_decay is not None:
            raise ValueError("give either a learning-rate schedule or lr_decay, not both.")
        return learning_rate
    if not isinstance(learning_rate, (int, float)) or isinstance(learning_rate, bool) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a positive number or an optax schedule, got {learning_rate!r}.")
    if lr_decay == "cos":
        return optax.cosine_decay_schedule(init_value=learning_rate, decay_steps=steps)
    if lr_decay == "exp":
        return optax.exponential_decay(init_value=learning_rate, transition_steps=10, decay_rate=0.5)
    if lr_decay is None:
        return optax.constant_schedule(learning_rate)
    raise ValueError(f"lr_decay must be one of {LR_DECAYS}, got {lr_decay!r}.")


def _optimizer(optimizer, schedule) -> optax.GradientTransformation:
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS} or an optax.GradientTransformation, "
                         f"got {optimizer!r}.")
    return getattr(optax, optimizer)(schedule)


class _Plan(NamedTuple):
    """The compile-time settings of a training."""

    st: Any  # loss._Static
    epochs: int
    batches: int
    m: int  # points per mini-batch (batches > 1)
    k_init: int
    k_final: int
    k_last: int  # the neighbour of the final DII on all rows
    l1: float
    opt_key: Any  # hashable: what builds the optimiser and the schedule
    mesh: Any
    n_rows: int


@functools.lru_cache(maxsize=64)
def _program(plan: _Plan):
    steps = plan.epochs * plan.batches
    optimizer, learning_rate, lr_decay = plan.opt_key
    schedule = _schedule(learning_rate, lr_decay, steps)
    tx = _optimizer(optimizer, schedule)
    st_batch = plan.st._replace(block=min(plan.st.block, plan.m), kmax=plan.k_init)

    def k_at(step):
        x = jnp.pi / steps * step
        return jnp.rint((plan.k_init - plan.k_final) * (jnp.cos(x) + 1) / 2 + plan.k_final).astype(jnp.int32)

    def loss_at(w, a, gidx, twice, rows, idx, k, factor):
        if plan.batches == 1:
            return _loss._dii(w, a, gidx, twice, rows, k, factor, st=plan.st, mesh=plan.mesh, n_rows=plan.n_rows)
        sub = twice[idx[:, None], idx[None, :]].astype(jnp.int32)
        sub = doubled_midranks(sub, jnp.eye(plan.m, dtype=bool))
        a_sub = a[:, idx][:, :, idx] if plan.st.layout == "given" else a[idx]
        return _loss._dii_local(w, a_sub, gidx, sub, jnp.arange(plan.m), plan.m, k, factor, st_batch)

    def run(w0, a, gidx, twice, rows, order, factor):
        norm0 = jnp.sqrt(jnp.sum(w0 ** 2))
        full = plan.batches == 1
        first = jnp.zeros((1,), jnp.int32) if full else jnp.arange(plan.m)

        def step(carry, t):
            w, opt_state = carry
            idx = first if full else order[t // plan.batches, t % plan.batches]
            # Full batch: one more step than the training, at the final weights and k_last, gives the final DII
            # from the same compiled loss (its update is dropped).
            k = jnp.where(t < steps, k_at(t), plan.k_last) if full else k_at(t)
            value, grad = jax.value_and_grad(loss_at)(w, a, gidx, twice, rows, idx, k, factor)
            updates, new_state = tx.update(grad, opt_state, w)
            new = optax.apply_updates(w, updates)
            new = norm0 / jnp.sqrt(jnp.sum(new ** 2)) * new
            if plan.l1:
                shrink = schedule(t + 1) * plan.l1
                new = jnp.where(new > 0, 1.0, 0.0) * jnp.maximum(0, new - shrink) + \
                    jnp.where(new < 0, 1.0, 0.0) * jnp.minimum(0, new + shrink)
                new = norm0 / jnp.sqrt(jnp.sum(new ** 2)) * new
            if full:
                keep = t < steps
                new = jnp.where(keep, new, w)
                new_state = jax.tree.map(lambda x, y: jnp.where(keep, x, y), new_state, opt_state)
            return (new, new_state), (value, jnp.abs(new))

        (w, _), (values, path) = lax.scan(step, (w0, tx.init(w0)), jnp.arange(steps + 1 if full else steps))
        if full:
            return w, values[0], values[:steps], path[:steps], values[steps]
        start = loss_at(w0, a, gidx, twice, rows, first, k_at(0), factor)
        final = _loss._dii(w, a, gidx, twice, rows, plan.k_last, factor, st=plan.st, mesh=plan.mesh,
                           n_rows=plan.n_rows)
        return w, start, values, path, final

    return jax.jit(run)


def train(a, ranks, *, groups=None, weights_init=None, epochs: int = 200, optimizer="sgd",
          learning_rate=1e-2, lr_decay: str | None = None, l1: float = 0.0, k_init: int = 1, k_final: int = 1,
          lambda_factor: float = 0.1, scheme: str = "point", batches: int = 1, rows=None, seed: int = 0,
          distance: str | None = None, block_size: int | None = None, mesh=False) -> DIIResult:
    """Learn the weights of A's features (or groups of features) that make A's neighbours predict B's ranks.

    Minimises DII(A(w) → B) (:func:`~ii_jax.dii.soft_imbalance`; Wild et al.'s normalisation) with optax.

    Args:
      a: space A: float features ``[N, D]`` (for sign bits, ±1 floats) or the squared distances of its groups of
        features ``[G, N, N]`` (see :func:`~ii_jax.dii.soft_imbalance`).
      ranks: doubled ranks of B, ``[R, N]`` (:func:`~ii_jax.dii.rank_matrix`, with the same ``rows``).
      groups: one weight per feature (``None``), per consecutive group of ``groups`` features (an ``int``: one
        weight per token of a window), or per group of the given sizes (see :func:`~ii_jax.dii.group_index`).
      weights_init: ``[P]`` starting weights (default 0.1 each, as DADApy); a weight started at 0 stays 0.
      epochs: passes over the data. batches: mini-batches per epoch (1: full batch; must divide N; not with
        ``rows``).
      optimizer: ``"sgd"``, ``"adam"``, ``"adamw"`` (built with the learning-rate schedule), or any
        ``optax.GradientTransformation`` (then ``learning_rate`` only scales the L1 step).
      learning_rate: a number or an optax schedule. lr_decay: ``None``, ``"cos"`` (cosine to 0 over the steps)
        or ``"exp"`` (halved every 10 steps), as DADApy.
      l1: strength of the L1 penalty (proximal step after each update).
      k_init, k_final: the neighbour order that sets λ, decayed by a cosine from ``k_init`` to ``k_final``.
      lambda_factor: λ_i = ``lambda_factor`` · d²(i, k-th neighbour). scheme: ``"point"``, ``"global"`` or
        ``"gap"`` (see :func:`~ii_jax.dii.soft_imbalance`).
      rows: row points (indices ``[R]``) when ``ranks`` holds only those rows (DADApy's ``num_points_rows``).
      seed: mini-batch permutations (NumPy ``default_rng``).
      distance, block_size: as :func:`~ii_jax.dii.soft_imbalance`. mesh: as there (full-batch steps only; the
        mini-batches of ``batches > 1`` run on one device).

    Returns:
      A :class:`DIIResult`.

    Raises:
      ValueError: bad settings, or an L1 penalty so strong that every weight reached zero.

    Examples:
      >>> import numpy as np
      >>> from ii_jax.dii import rank_matrix, train
      >>> rng = np.random.default_rng(0)
      >>> x = rng.normal(size=(200, 4)).astype(np.float32)
      >>> ranks = rank_matrix(x[:, :2] * np.array([3.0, 1.0]))  # B: features 0 and 1, 0 three times larger
      >>> res = train(x, ranks, epochs=60, learning_rate=0.1, optimizer="adam")
      >>> w = res.weights / res.weights.max()
      >>> bool(w[0] > w[1] > 0.2 > w[2:].max()), bool(res.dii_path[-1] < res.dii_path[0])
      (True, True)
    """
    from ii_jax.parallel import resolve_mesh

    prep = _loss.prepare_a(a, groups, distance)
    n, n_params, gidx = prep.n, prep.n_params, prep.gidx
    dtype = prep.a.dtype if prep.layout != "given" else jnp.result_type(float)
    w0 = np.full(n_params, 0.1) if weights_init is None else np.asarray(weights_init, np.float64)
    if w0.shape != (n_params,):
        raise ValueError(f"weights_init must be [{n_params}], got shape {w0.shape}.")
    if not np.any(w0):
        raise ValueError("weights_init must hold at least one nonzero weight.")
    if np.ndim(ranks) != 2 or np.shape(ranks)[1] != n:
        raise ValueError(f"ranks must be [R, {n}] (rank_matrix of B on the same points), got {np.shape(ranks)}.")
    epochs = _loss._check_int("epochs", epochs)
    batches = _loss._check_int("batches", batches)
    k_init, k_final = _loss._check_int("k_init", k_init), _loss._check_int("k_final", k_final)
    if k_final > k_init:
        raise ValueError(f"k_init must be >= k_final, got k_init={k_init} and k_final={k_final}.")
    if isinstance(l1, bool) or not isinstance(l1, (int, float)) or l1 < 0:
        raise ValueError(f"l1 must be a number >= 0, got {l1!r}.")
    if not isinstance(lambda_factor, (int, float)) or isinstance(lambda_factor, bool) or lambda_factor <= 0:
        raise ValueError(f"lambda_factor must be a positive number, got {lambda_factor!r}.")
    _loss._check_scheme(scheme)
    block = _loss.block_rows(block_size, prep)
    if batches > 1:
        if rows is not None:
            raise ValueError("mini-batches (batches > 1) need ranks on all points (rows=None).")
        if n % batches:
            raise ValueError(f"batches={batches} must divide the {n} points.")
        m = n // batches
    else:
        m = n
    if k_init + (scheme == "gap") >= (m if batches > 1 else n):
        raise ValueError(f"k_init={k_init} needs more than {k_init + (scheme == 'gap')} points per batch.")
    _schedule(learning_rate, lr_decay, epochs * batches)  # validate early
    _optimizer(optimizer, optax.constant_schedule(1.0))
    mesh = resolve_mesh(mesh) if batches == 1 else None
    twice, rows_arr, n_rows, block = _loss.prepare_rows(ranks, rows, mesh, block)
    k_last = min(math.ceil(k_final * batches), n - 1 - (scheme == "gap"))
    plan = _Plan(_loss._Static(block, max(k_init, k_last), scheme, prep.layout, prep.n_groups), epochs, batches,
                 m, k_init, k_final, k_last, float(l1), (optimizer, learning_rate, lr_decay), mesh, n_rows)
    if batches > 1:
        rng = np.random.default_rng(seed)
        order = np.stack([rng.permutation(n).reshape(batches, m) for _ in range(epochs)]).astype(np.int32)
    else:
        order = np.zeros((1, 1, 1), np.int32)
    factor = jnp.asarray(lambda_factor, dtype)
    w, start, values, path, final = _program(plan)(jnp.asarray(w0, dtype), prep.a, gidx, twice, rows_arr,
                                                   jnp.asarray(order), factor)
    if not bool(jnp.all(jnp.isfinite(w))):
        raise ValueError(f"every weight reached zero during training (l1={l1}): lower l1.")
    values, path = np.asarray(values), np.asarray(path)
    dii_path = np.concatenate([[float(start)], values[batches - 1::batches]])
    weights_path = np.concatenate([np.abs(w0)[None].astype(path.dtype), path[batches - 1::batches]])
    params = dict(groups=None if groups is None else (groups if isinstance(groups, int) else list(map(int, groups))),
                  epochs=epochs, batches=batches, optimizer=optimizer if isinstance(optimizer, str) else "optax",
                  learning_rate=learning_rate if not callable(learning_rate) else "schedule", lr_decay=lr_decay,
                  l1=l1, k_init=k_init, k_final=k_final, lambda_factor=lambda_factor, scheme=scheme, seed=seed,
                  distance=prep.layout,
                  rows=None if rows is None else len(rows_arr))
    return DIIResult(np.abs(np.asarray(w)), weights_path, dii_path, float(final), n, params)
