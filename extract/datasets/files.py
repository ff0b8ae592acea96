"""Text (or image) pairs from local files and Hugging Face: ``tsv:``, ``jsonl:`` and ``hf:`` specs.

Two columns (dotted keys reach nested fields) become the two sides; an ``id`` column, if there is one,
gives the pair ids, else the row index does.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from extract.datasets.base import ImageItem, PairDataset


def _pairs_from_columns(name, rows: list[dict], col_a: str, col_b: str, id_col: str | None) -> PairDataset:
    def get(row, key):
        cur = row
        for part in key.split("."):
            if not isinstance(cur, dict) or part not in cur:
                raise ValueError(f"dataset {name!r}: a row has no field {key!r} (fields: {list(row)}).")
            cur = cur[part]
        return cur

    ids = [str(get(r, id_col)) if id_col else str(i) for i, r in enumerate(rows)]
    a = [get(r, col_a) for r in rows]
    b = [get(r, col_b) for r in rows]
    mods = tuple("image" if (v and not isinstance(v[0], str)) else "text" for v in (a, b))
    a = [x if isinstance(x, str) else ImageItem(pixels=x) for x in a]
    b = [x if isinstance(x, str) else ImageItem(pixels=x) for x in b]
    return PairDataset(name, (col_a, col_b), mods, ids, (a, b))


def load_tsv(path: str | os.PathLike, col_a: str | None = None, col_b: str | None = None,
             id_col: str | None = "id") -> PairDataset:
    """Text pairs from a TSV with a header row. Without column names, the two non-id columns are used."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such TSV file.")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        rows = list(reader)
        fields = reader.fieldnames or []
    if any(None in r for r in rows):
        bad = next(i for i, r in enumerate(rows) if None in r)
        raise ValueError(f"{path}: line {bad + 2} has more fields than the header.")
    if any(v is None for r in rows for v in r.values()):
        bad = next(i for i, r in enumerate(rows) if any(v is None for v in r.values()))
        raise ValueError(f"{path}: line {bad + 2} has fewer fields than the header: the sides differ in length.")
    return _pairs_from_columns(str(path), rows, *_pick_columns(path, fields, col_a, col_b, id_col))


def load_jsonl(path: str | os.PathLike, col_a: str | None = None, col_b: str | None = None,
               id_col: str | None = "id") -> PairDataset:
    """Text pairs from JSON lines; dotted keys reach nested fields (``translation.en``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such JSONL file.")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: line {n} is not valid JSON ({err}).") from err
    fields = list(rows[0]) if rows else []
    return _pairs_from_columns(str(path), rows, *_pick_columns(path, fields, col_a, col_b, id_col))


def _pick_columns(path, fields, col_a, col_b, id_col):
    id_col = id_col if id_col in fields else None
    if col_a is None or col_b is None:
        rest = [f for f in fields if f != id_col]
        if len(rest) != 2:
            raise ValueError(f"{path}: name the two columns to pair (found {rest}).")
        col_a, col_b = rest
    return col_a, col_b, id_col


def from_hf_dataset(ds, col_a: str, col_b: str, *, id_column: str | None = None,
                    name: str = "hf") -> PairDataset:
    """Pairs from a ``datasets.Dataset`` (or anything indexable by column name), columns ``col_a``/``col_b``.

    Dotted names reach into dict columns (opus_books: ``translation.en``, ``translation.es``). Image
    columns (PIL images) become image sides. Without ``id_column`` the row index is the id.
    """
    def column(key):
        head, *rest = key.split(".")
        if head not in ds.column_names:
            raise ValueError(f"dataset {name!r} has columns {ds.column_names}, not {head!r}.")
        values = ds[head]
        for part in rest:
            values = [v[part] for v in values]
        return list(values)

    a, b = column(col_a), column(col_b)
    ids = [str(v) for v in column(id_column)] if id_column else [str(i) for i in range(len(a))]
    mods = tuple("text" if all(isinstance(v, str) for v in vals) else "image" for vals in (a, b))
    a = a if mods[0] == "text" else [ImageItem(pixels=v) for v in a]
    b = b if mods[1] == "text" else [ImageItem(pixels=v) for v in b]
    return PairDataset(name, (col_a, col_b), mods, ids, (a, b))


def load_hf(spec: str) -> PairDataset:
    """``NAME[/CONFIG]:A,B[:SPLIT]`` -> :func:`from_hf_dataset` on ``datasets.load_dataset``."""
    parts = spec.split(":")
    if len(parts) < 2:
        raise ValueError(f"hf dataset spec {spec!r}: expected NAME[/CONFIG]:COL_A,COL_B[:SPLIT].")
    name, cols, split = parts[0], parts[1], parts[2] if len(parts) > 2 else "train"
    repo, config = name.rsplit("/", 1) if name.count("/") == 2 else (name, "")
    col_a, col_b = cols.split(",")
    import datasets

    ds = datasets.load_dataset(repo, config or None, split=split)
    return from_hf_dataset(ds, col_a, col_b, name=f"hf:{spec}")


def _path_and_columns(rest: str) -> tuple[str, tuple]:
    path, sep, cols = rest.rpartition(":")
    if sep and "," in cols and not os.path.exists(rest):
        a, b = cols.split(",", 1)
        return path, (a, b)
    return rest, ()
