"""Which kernels run the training hot loop: NumPy's, or compiled ones from :mod:`formicary.accel`.

The maths is the same either way, and so are the results, bit for bit: the
compiled kernels fuse NumPy's passes without reordering any arithmetic. What
changes is speed (784-256-128-10 on Fashion-MNIST: about 15-20% per epoch,
see ``benchmarks/RESULTS.md``).

- ``"auto"`` (the default): the compiled kernels when Numba is installed
  (``pip install "formicary[fast]"``), NumPy otherwise.
- ``"numpy"``: NumPy only (nothing but NumPy is imported).
- ``"numba"``: the compiled kernels; an ``ImportError`` saying how to install
  them if Numba is missing.

Choose with :func:`use`, or before Python starts with the environment variable
``FORMICARY_BACKEND``. Numba is imported on the first training step, not when
Formicary is imported, and the compiled kernels are cached on disk, so only
the very first run pays for compiling them (a few seconds).

>>> import formicary.backend as backend
>>> backend.use("numpy")
>>> backend.name()
'numpy'
>>> backend.use("auto")
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["BACKENDS", "kernels", "name", "use"]

BACKENDS = ("auto", "numpy", "numba")

_choice: str | None = None  # None: not decided yet (read FORMICARY_BACKEND on first use)
_loaded: ModuleType | None = None
_tried = False
#: Changes whenever the choice does, so that cached per-layer plans are rebuilt.
generation = 0


def _check(choice: str, source: str) -> str:
    key = str(choice).strip().lower()
    if key not in BACKENDS:
        raise ValueError(
            f"unknown backend {choice!r} in {source}; choose one of {', '.join(BACKENDS)}"
        )
    return key


def use(choice: str) -> None:
    """Run training with ``"auto"``, ``"numpy"`` or ``"numba"`` kernels from now on."""
    global _choice, generation
    key = _check(choice, "formicary.backend.use()")
    if key == "numba":
        _load(strict=True)
    _choice = key
    generation += 1


def _load(strict: bool) -> ModuleType | None:
    global _loaded, _tried
    if _loaded is not None:
        return _loaded
    if _tried and not strict:
        return None
    _tried = True
    try:
        from formicary import accel
    except Exception as error:  # also LLVM failing to load, e.g. under a memory cap
        if strict:
            raise ImportError(
                "the 'numba' backend needs Numba: pip install 'formicary[fast]' "
                f"(importing it failed: {error})"
            ) from error
        return None
    _loaded = accel
    return accel


def kernels(load: bool = True) -> ModuleType | None:
    """The compiled kernels module if the chosen backend uses it, else None.

    With ``load=False`` only if it is loaded already: for work too small to
    pay for importing Numba (prediction on a few rows).
    """
    global _choice
    if _choice is None:
        _choice = _check(os.environ.get("FORMICARY_BACKEND", "auto"), "FORMICARY_BACKEND")
    if _choice == "numpy":
        return None
    if not load:
        return _loaded
    return _load(strict=_choice == "numba")


def name() -> str:
    """The backend in effect: ``"numba"`` or ``"numpy"`` (``"auto"`` resolved)."""
    return "numba" if kernels() is not None else "numpy"
