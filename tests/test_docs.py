"""The documentation as a reader meets it: the README's example runs and its summary matches the study's report,
no tracker numbers in user-facing text, and (heavy) the site builds without warnings and renders in a browser.

The browser test builds ``docs/_build/html`` (as ``make docs`` does), opens the index, the API page of
``information_imbalance`` and the results page in headless Chromium (Debian's ``chromium`` and
``chromium-driver``: ``make docs-browser``), and checks that each page rendered its figures and math and that every
internal link and anchor it holds resolves. Screenshots go to ``docs/_build/screenshots/``.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REPORT = ROOT / "docs" / "study" / "report.json"
HTML = ROOT / "docs" / "_build" / "html"


def test_readme_is_a_short_page():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


def test_readme_example_runs(capsys):
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README has no Python example"
    assert len(blocks[0].strip().splitlines()) <= 12
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "Imbalance(x_to_y=" in out


def test_readme_glance_matches_the_report():
    """The README's claims at a glance are the committed report's counts (so they cannot go stale silently)."""
    claims = json.loads(REPORT.read_text(encoding="utf-8"))["claims"]
    counts = {}
    for c in claims:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    plural = {"holds": "hold", "does not hold": "do not hold"}
    glance = " ".join(README.read_text(encoding="utf-8").split())
    for verdict, n in counts.items():
        word = plural.get(verdict, verdict) if n != 1 else verdict
        assert f"{n} {word}" in glance, f"README: expected '{n} {word}' (docs/study/report.json)"


USER_FACING = ["README.md", "ARCHITECTURE.md", "Makefile", "pyproject.toml", "docs", "ii_jax", "extract",
               "benchmarks", "notebooks"]
SUFFIXES = {".md", ".py", ".c", ".cc", ".h", ".sh", ".toml", ".ipynb", ".txt", ""}


def test_no_tracker_numbers_in_user_facing_text():
    pattern = re.compile(r"\bissues? *#? *\d+", re.IGNORECASE)
    found = []
    for entry in USER_FACING:
        path = ROOT / entry
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES]
        for f in files:
            rel = f.relative_to(ROOT).as_posix()
            if rel.startswith(("docs/_build", "docs/_generated", "docs/api/", "docs/jupyter_execute", "docs/examples/")):
                continue
            try:
                text = f.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            found += [f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in pattern.finditer(text)]
    assert not found, "tracker numbers in user-facing text:\n" + "\n".join(found)


# ------------------------------------------------------------------------------------------------- the site
class _Anchors(HTMLParser):
    """Every id and name attribute of a page."""

    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v:
                self.ids.add(v)


def _anchors(path: Path, cache: dict) -> set:
    if path not in cache:
        parser = _Anchors()
        parser.feed(path.read_text(encoding="utf-8"))
        cache[path] = parser.ids
    return cache[path]


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("headless Chromium and its driver are missing: run `make docs-browser` (Debian's chromium, "
                    "chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1800",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


PAGE_STATE = """
const imgs = [...document.images];
const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
return {
  title: document.title,
  h1: (document.querySelector('h1') || {}).textContent || '',
  images: imgs.map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})),
  links: links,
  math: document.querySelectorAll('mjx-container').length,
  raw_math: (document.body.innerText.match(/\\\\frac|\\\\sum_/g) || []).length,
  text: document.body.innerText.length,
};
"""


def _open(browser, page: Path) -> dict:
    browser.get(page.as_uri())
    state = browser.execute_script(PAGE_STATE)
    for _ in range(40):  # images and MathJax finish after the load event
        if all(i["ok"] for i in state["images"]) and not state["raw_math"]:
            break
        time.sleep(0.25)
        state = browser.execute_script(PAGE_STATE)
    return state


def _broken_links(page: Path, links: list, cache: dict) -> list:
    broken = []
    for href in links:
        parts = urlsplit(href)
        if parts.scheme in ("http", "https", "mailto") or href.startswith("//"):
            continue  # external: not part of this check
        target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{href} (no file {target})")
            continue
        if parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _anchors(target, cache):
            broken.append(f"{href} (no anchor #{parts.fragment})")
    return broken


@pytest.fixture(scope="module")
def site():
    """The documentation, built as ``make docs`` builds it (warnings as errors)."""
    pytest.importorskip("sphinx", reason="the docs extra is not installed: `make docs` installs it")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "docs", str(HTML)],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=1500)
    assert p.returncode == 0, f"the documentation did not build cleanly:\n{p.stderr[-6000:]}"
    return HTML


@pytest.mark.heavy
@pytest.mark.slow
def test_site_renders_in_a_browser(site):
    shots = site.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    figures = len(list((ROOT / "docs" / "study").glob("*.png")))
    pages = {  # page: (what its h1 says, figures it must show at least, math it must typeset at least)
        "index.html": ("ii-jax", 0, 0),
        "api/ii_jax.information_imbalance.html": ("information_imbalance", 0, 1),
        "results/index.html": ("claims", figures, 0),
    }
    browser = _browser()
    cache: dict = {}
    try:
        for rel, (heading, n_figures, n_math) in pages.items():
            page = site / rel
            assert page.is_file(), f"{rel} was not built"
            state = _open(browser, page)
            browser.save_screenshot(str(shots / (rel.replace("/", "_").replace(".html", ".png"))))
            assert heading in state["h1"], f"{rel}: heading {state['h1']!r}"
            assert state["text"] > 500, f"{rel}: the page is nearly empty"
            bad = [i["src"] for i in state["images"] if not i["ok"]]
            assert not bad, f"{rel}: images that did not load: {bad}"
            assert sum(i["ok"] for i in state["images"]) >= n_figures, f"{rel}: {len(state['images'])} images"
            assert state["math"] >= n_math and not state["raw_math"], f"{rel}: math not typeset"
            broken = _broken_links(page, state["links"], cache)
            assert not broken, f"{rel}: broken internal links:\n" + "\n".join(broken)
            if rel == "results/index.html":  # and its figures
                browser.execute_script("document.documentElement.style.scrollBehavior = 'auto'; "
                                       "document.getElementById('figures').scrollIntoView({behavior: 'instant'})")
                time.sleep(1)
                browser.save_screenshot(str(shots / "results_figures.png"))
        # the results page shows every figure of the study and a row per claim of its report
        html = (site / "results/index.html").read_text(encoding="utf-8")
        for png in (ROOT / "docs" / "study").glob("*.png"):
            assert png.name in html, f"results page: figure {png.name} missing"
        claims = json.loads(REPORT.read_text(encoding="utf-8"))["claims"]
        assert all(f'id="claim-{i}"' in html for i in range(1, len(claims) + 1))
    finally:
        browser.quit()


def test_results_page_states_what_the_study_took(tmp_path, monkeypatch):
    """The results page's header: the steps' time summed over the resumed runs (not the last run's wall time) and
    every N the study ran; each verdict a badge."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
    import iijax_docs

    report = tmp_path / "report.json"
    claim = {"id": "binary_float", "claim": "bits as good as floats", "where": "§3", "measured": "m",
             "verdict": "does not hold", "numbers": {}}
    report.write_text(json.dumps({
        "claims": [claim], "written": "2026-12-07", "library": {"ii-jax": "0.1.0"},
        "params": {"n": 1197, "n_large": 600, "n_lang": 665},
        "timings": {"total": 1020.0, "claims": 1000.0}, "measured": {"extract": 5100.0, "claims": 1000.0}}))
    page = iijax_docs.claims_markdown(report)
    head = page.splitlines()[0]
    assert '<span class="ii-verdict ii-does-not-hold">does not hold</span>' in page
    assert "its steps took 102 min over the runs that did them (the run that wrote it: 17 min)" in head
    assert "N = 1197 verse pairs per text model (600 for the largest), 665 for the language pairs" in head
