"""``python -m ii_jax._native``: build the native Hamming kernel (never fails the caller: exit status 0 either way)."""
from ii_jax._native import build

build()
