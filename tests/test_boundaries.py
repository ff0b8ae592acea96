"""The one-way shape (DESIGN §1-2): extract -> ii_jax.store <- engine, with the command line on top.

Import rules, each checked in a fresh interpreter (``sys.executable -c ...``) so that ``sys.modules`` starts empty:

* the extraction layer loads ``ii_jax.store`` and nothing else of the engine, so never jax;
* ``import ii_jax`` is light (lazy submodules) and, with ``extract`` made unimportable, every public name still
  resolves and torch is never loaded;
* ``ii_jax.store`` is NumPy only;

and statically, by parsing the sources with :mod:`ast`: no engine module but the command line imports ``extract``,
no ``extract`` module imports any part of ``ii_jax`` but ``ii_jax.store``, the store's format name, version and
file-name pattern are defined in ``ii_jax/store`` only, no import runs back up the layers of the engine
(:data:`LAYERS`, ARCHITECTURE.md: store <- binary, distances <- core <- resample <- analyses <- cli), no package
face (``__init__.py``) re-exports a private name, and no deprecated alias is left.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("jax", "jaxlib", "matplotlib", "torch", "optax", "flax")

# Run first in every child: this checkout's ii_jax (not another install), and a helper reporting what is loaded.
_PRELUDE = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
def loaded(prefixes):
    return sorted(m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in prefixes))
def report(**kw):
    import ii_jax
    kw["ii_jax_file"] = ii_jax.__file__
    print("RESULT " + json.dumps(kw))
"""


def _child(code: str) -> dict:
    """Run ``code`` after the prelude in a fresh interpreter; returns what it passed to ``report``."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.run([sys.executable, "-c", _PRELUDE + code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"child interpreter failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        pytest.fail(f"child interpreter reported nothing:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    out = json.loads(lines[-1][len("RESULT "):])
    assert Path(out["ii_jax_file"]).resolve().is_relative_to(ROOT), out["ii_jax_file"]
    return out


def _engine_modules_outside_store(names: list[str]) -> list[str]:
    return [m for m in names if m != "ii_jax" and m != "ii_jax.store" and not m.startswith("ii_jax.store.")]


# ---------------------------------------------------------------------------------------------------------------
# (a) the extraction layer loads the store and nothing else of the engine


@pytest.mark.parametrize("module", ["extract.writer", "extract.datasets", "extract.merge", "extract.pipeline",
                                    "extract.atomic"])
def test_extract_modules_load_only_the_store(module):
    out = _child(f"import {module}\nreport(heavy=loaded({HEAVY!r}), engine=loaded(['ii_jax']))")
    assert out["heavy"] == [], f"import {module} loaded {out['heavy']}"
    assert _engine_modules_outside_store(out["engine"]) == [], \
        f"import {module} loaded engine modules beyond ii_jax.store: {_engine_modules_outside_store(out['engine'])}"
    assert "ii_jax.store" in out["engine"]


# ---------------------------------------------------------------------------------------------------------------
# (b) the engine works without the extraction layer and never loads torch

_BLOCK_EXTRACT = """
import importlib.abc
class _NoExtract(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "extract" or name.startswith("extract."):
            raise ImportError(f"blocked by the test: the engine imported {name}")
        return None
sys.meta_path.insert(0, _NoExtract())
"""


def test_import_ii_jax_is_light_and_needs_no_extract():
    out = _child(_BLOCK_EXTRACT + f"""
import ii_jax
light = loaded({HEAVY!r}) + loaded(['extract'])
engine = loaded(['ii_jax'])
f = ii_jax.information_imbalance  # resolved on first access
report(light=light, engine=engine, module=f.__module__, after=loaded(['jax']) != [], torch=loaded(['torch']),
       version=ii_jax.__version__, has_all='information_imbalance' in dir(ii_jax))
""")
    assert out["light"] == [], f"import ii_jax loaded {out['light']}"
    assert out["engine"] == ["ii_jax"]
    assert out["module"].startswith("ii_jax.")
    assert out["after"], "information_imbalance did not load jax on first access"
    assert out["torch"] == []
    assert out["version"]
    assert out["has_all"]


def test_every_public_name_resolves_without_extract_or_torch():
    out = _child(_BLOCK_EXTRACT + """
import types
import ii_jax
missing = [n for n in ii_jax.__all__ if not hasattr(ii_jax, n)]
from ii_jax import information_imbalance, bid_from_bits, analyses, bid, core, layer_profile, plots, parallel  # noqa
import ii_jax.binary  # the device packer
report(missing=missing, torch=loaded(['torch']), extract=loaded(['extract']),
       bid_is_module=isinstance(bid, types.ModuleType) and bid.__name__ == 'ii_jax.bid' and not callable(bid),
       core_is_module=isinstance(core, types.ModuleType) and core.__name__ == 'ii_jax.core',
       bid_from_bits_is_function=isinstance(bid_from_bits, types.FunctionType),
       same_packer=ii_jax.binary.pack_bits_np is ii_jax.store.pack_bits_np,
       all_in_dir=set(ii_jax.__all__) <= set(dir(ii_jax)))
""")
    assert out["missing"] == []
    assert out["torch"] == []
    assert out["extract"] == []
    assert out["bid_is_module"], "ii_jax.bid must be the module"
    assert out["core_is_module"], "ii_jax.core must be the module"
    assert out["bid_from_bits_is_function"]
    for key in ("same_packer", "all_in_dir"):
        assert out[key], key


# ---------------------------------------------------------------------------------------------------------------
# (c) the store is NumPy only


def test_import_ii_jax_store_loads_no_jax():
    out = _child(f"""
import ii_jax.store
import ii_jax.store.schema, ii_jax.store.manifest, ii_jax.store.reader, ii_jax.store.bits
import ii_jax.store.pairing, ii_jax.store.files, ii_jax.store.versions
report(heavy=loaded({HEAVY!r}), engine=loaded(['ii_jax']), extract=loaded(['extract']))
""")
    assert out["heavy"] == []
    assert out["extract"] == []
    assert _engine_modules_outside_store(out["engine"]) == []


# ---------------------------------------------------------------------------------------------------------------
# (d), (e) static rules, from the sources


def _sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in ``path``.

    ``from a import b`` gives ``a.b`` (``b`` may be a submodule); relative imports are resolved against the file's
    package; ``importlib.import_module("m")`` and ``__import__("m")`` with a literal name count too.
    """
    rel = path.relative_to(ROOT).with_suffix("")
    package = list(rel.parts[:-1])  # the package a relative import starts from (also for __init__.py)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                out.append((node.lineno, node.args[0].value))
    return out


def _is(module: str, top: str) -> bool:
    return module == top or module.startswith(top + ".")


def test_no_engine_module_imports_extract():
    """Not even the command line: ii_jax.cli reaches the extraction layer only through subprocesses
    (``python -m extract.cli ...``)."""
    bad = [f"{p.relative_to(ROOT)}:{line}: {mod}" for p in _sources("ii_jax")
           for line, mod in _imports(p) if _is(mod, "extract")]
    assert bad == [], "engine modules import the extraction layer:\n" + "\n".join(bad)


def test_the_command_line_reaches_extract_by_subprocess_only():
    code = ("import sys\nimport ii_jax.cli\nii_jax.cli.build_parser()\n"
            "assert not [m for m in sys.modules if m == 'extract' or m.startswith('extract.')], 'extract imported'\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]


def test_extract_imports_only_the_store_of_the_engine():
    bad = []
    for p in _sources("extract"):
        for line, mod in _imports(p):
            if _is(mod, "ii_jax") and not _is(mod, "ii_jax.store"):
                bad.append(f"{p.relative_to(ROOT)}:{line}: {mod}")
    assert bad == [], "extract imports engine modules other than ii_jax.store:\n" + "\n".join(bad)


def test_the_store_imports_nothing_heavy_and_nothing_else_of_the_engine():
    bad = []
    for p in _sources("ii_jax/store"):
        for line, mod in _imports(p):
            heavy = any(_is(mod, h) for h in HEAVY) or _is(mod, "extract")
            engine = _is(mod, "ii_jax") and not _is(mod, "ii_jax.store") and mod != "ii_jax.__version__"
            if heavy or engine:
                bad.append(f"{p.relative_to(ROOT)}:{line}: {mod}")
    assert bad == [], "ii_jax/store must be NumPy only:\n" + "\n".join(bad)


_PATTERN = re.compile(r"layer_(\{[^}]*:03d\}|%03d)")  # the store's file names: layer_{layer:03d}[.f16].npy


def test_store_constants_are_defined_only_in_the_store():
    found = []
    for folder in ("ii_jax", "extract", "benchmarks"):
        for p in _sources(folder):
            rel = p.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"), filename=str(p))):
                targets = []
                if isinstance(node, ast.Assign):
                    targets = node.targets
                elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                    targets = [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                names += [t.attr for t in targets if isinstance(t, ast.Attribute)]
                for name in names:
                    if name in ("FORMAT", "FORMAT_VERSION"):
                        found.append((rel, node.lineno, f"assigns {name}"))
                if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                    text = ast.unparse(node) if isinstance(node, ast.JoinedStr) else node.value
                    if _PATTERN.search(text):
                        found.append((rel, node.lineno, f"spells the layer file name {text!r}"))
    outside = [f"{rel}:{line}: {what}" for rel, line, what in found if not rel.startswith("ii_jax/store/")]
    assert outside == [], "store constants defined outside ii_jax/store:\n" + "\n".join(outside)
    inside = {what for rel, _, what in found if rel == "ii_jax/store/schema.py"}
    assert {"assigns FORMAT", "assigns FORMAT_VERSION"} <= inside  # the check looks where the definitions are


# ---------------------------------------------------------------------------------------------------------------
# (f) the layers of the engine: every module has one, and no import runs back up


LAYERS = (  # lowest first; a module may import its own layer and those before it, never one after it
    ("store", ("ii_jax.store",)),
    ("binary, distances", ("ii_jax.binary", "ii_jax.distances", "ii_jax.parallel", "ii_jax._native")),
    ("core", ("ii_jax.core", "ii_jax.imbalance", "ii_jax.baselines", "ii_jax.windows")),
    ("resample", ("ii_jax.resample", "ii_jax.null", "ii_jax.dii")),
    ("analyses", ("ii_jax.analyses", "ii_jax.bid", "ii_jax.synthetic", "ii_jax.plots", "ii_jax.flax_capture")),
    ("cli", ("ii_jax.cli",)),
)


def _layer(module: str) -> int | None:
    for i, (_, packages) in enumerate(LAYERS):
        if any(_is(module, p) for p in packages):
            return i
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _lazy_table() -> dict:
    """``ii_jax._LAZY`` (public name -> its module), read from the source: ``from ii_jax import NAME`` loads it."""
    tree = ast.parse((ROOT / "ii_jax" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_LAZY" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("ii_jax/__init__.py defines no _LAZY table")


def _violations(module: str, imports: list[tuple[int, str]], lazy: dict) -> list[str]:
    """The imports of ``module`` that run back up the layers (``from ii_jax import NAME`` counts as NAME's module)."""
    mine, bad = _layer(module), []
    for line, mod in imports:
        if not _is(mod, "ii_jax") or mod in ("ii_jax", "ii_jax.__version__"):
            continue
        name = mod.split(".")[1]
        target = lazy[name] if name in lazy and mod.count(".") == 1 else mod
        theirs = _layer(target)
        if theirs is not None and mine is not None and theirs > mine:
            bad.append(f"{module}:{line}: imports {mod} ({LAYERS[theirs][0]}) from the {LAYERS[mine][0]} layer")
    return bad


def test_every_engine_module_has_a_layer():
    names = [_module_name(p) for p in _sources("ii_jax")]
    missing = [m for m in names if m != "ii_jax" and _layer(m) is None]
    assert missing == [], "modules in no layer (add them to LAYERS and to ARCHITECTURE.md):\n" + "\n".join(missing)


def test_no_import_runs_back_up_the_layers():
    lazy = _lazy_table()
    assert lazy["core"] == "ii_jax.core" and lazy["information_imbalance"] == "ii_jax.imbalance"
    bad = [v for p in _sources("ii_jax") if _module_name(p) != "ii_jax"
           for v in _violations(_module_name(p), _imports(p), lazy)]
    assert bad == [], "imports against the layers:\n" + "\n".join(bad)
    # the check can fail: the core reaching up to the analyses, and through the package face
    assert _violations("ii_jax.core.engine", [(1, "ii_jax.analyses.profile")], lazy)
    assert _violations("ii_jax.distances.tiling", [(1, "ii_jax.information_imbalance")], lazy)
    assert not _violations("ii_jax.analyses.sweep", [(1, "ii_jax.core")], lazy)


def _module_level_imports(tree: ast.AST):
    """Imports outside function and class bodies (what a module binds as its own names)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.ImportFrom):
            yield node
        yield from _module_level_imports(node)


def test_no_package_face_re_exports_private_names():
    bad = []
    for p in sorted((ROOT / "ii_jax").rglob("__init__.py")):
        for node in _module_level_imports(ast.parse(p.read_text(encoding="utf-8"))):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    bad.append(f"{p.relative_to(ROOT)}:{node.lineno}: {node.module}.{alias.name}")
    assert bad == [], "package faces re-exporting private names:\n" + "\n".join(bad)


def test_no_deprecated_alias_is_left():
    gone = ["shards.py", "pairing.py", "demo.py", "report.py", "bid_cli.py", "_compat.py"]
    assert [f for f in gone if (ROOT / "ii_jax" / f).exists()] == []
    warns = [f"{p.relative_to(ROOT)}" for p in _sources("ii_jax") if "DeprecationWarning" in p.read_text("utf-8")]
    assert warns == [], "modules still warning about deprecated names:\n" + "\n".join(warns)
