"""The pair dataset itself: :class:`PairDataset` (N pairs, two sides, stable ids), :class:`ImageItem` (an
image side's item), :class:`MissingDataError`, and the small helpers the loaders share.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Sequence


class MissingDataError(RuntimeError):
    """A system package or data file that a dataset needs is not installed."""


@dataclasses.dataclass(frozen=True)
class ImageItem:
    """An image: a file path, or pixels in memory (``uint8`` ``[H, W]`` or ``[H, W, C]``), or a PIL image."""

    path: str | None = None
    pixels: Any = None

    def describe(self) -> str:
        """One line naming the dataset, its sides and its size."""
        return self.path if self.path else "<in-memory image>"


@dataclasses.dataclass(frozen=True)
class PairDataset:
    """N pairs. ``items[s][i]`` is side ``sides[s]`` of pair ``ids[i]`` (a ``str`` or an :class:`ImageItem`).

    Attributes:
      name: the spec it was loaded from.
      sides: names of the two sides, e.g. ``("en", "es")``.
      modalities: ``"text"`` or ``"image"`` for each side.
      ids: stable, unique pair ids ``[N]``.
      items: two sequences ``[N]``.
      labels: optional class label per pair ``[N]``.
      info: where the data come from (e.g. the Bible editions of each side), recorded in the manifest.
    """

    name: str
    sides: tuple[str, str]
    modalities: tuple[str, str]
    ids: list[str]
    items: tuple[list, list]
    labels: list | None = None
    info: dict | None = None

    def __post_init__(self):
        n = len(self.ids)
        if len(self.items) != 2 or len(self.items[0]) != n or len(self.items[1]) != n:
            raise ValueError(f"dataset {self.name!r}: its sides differ in length "
                             f"({len(self.items[0])} and {len(self.items[1])} items for {n} ids).")
        if len(set(self.ids)) != n:
            dup = next(i for i in self.ids if self.ids.count(i) > 1)
            raise ValueError(f"dataset {self.name!r}: pair id {dup!r} is not unique.")
        if self.sides[0] == self.sides[1]:
            raise ValueError(f"dataset {self.name!r}: both sides are named {self.sides[0]!r}.")

    def __len__(self) -> int:
        return len(self.ids)

    def side_index(self, side: str) -> int:
        """The column of ``side`` in :attr:`sides` (``ValueError`` listing the sides otherwise)."""
        if side not in self.sides:
            raise ValueError(f"dataset {self.name!r} has sides {list(self.sides)}, not {side!r}.")
        return self.sides.index(side)

    def side(self, side: str) -> tuple[str, list]:
        """``(modality, items)`` of one side."""
        s = self.side_index(side)
        return self.modalities[s], self.items[s]

    def subset(self, indices: Sequence[int]) -> "PairDataset":
        """The pairs at ``indices``, in that order, as a new dataset."""
        idx = [int(i) for i in indices]
        return dataclasses.replace(
            self, ids=[self.ids[i] for i in idx], items=tuple([it[i] for i in idx] for it in self.items),
            labels=None if self.labels is None else [self.labels[i] for i in idx])


# ---------------------------------------------------------------------------------------- shared helpers

def _norm_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _split_pair(kind: str, pair: str) -> tuple[str, str]:
    parts = pair.split("-")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{kind}: expected {kind}:A-B (two sides joined by '-'), got {kind}:{pair}.")
    if parts[0] == parts[1]:
        raise ValueError(f"{kind}:{pair}: both sides are {parts[0]!r}; "
                         + ("use bible:web-kjv or bible:en@kjv-en@bbe for two English versions." if kind == "bible"
                            else "pick two."))
    return parts[0], parts[1]
