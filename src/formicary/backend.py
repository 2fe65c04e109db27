"""Which kernels run the training hot loop: NumPy's, or compiled ones from :mod:`formicary.accel`.

The maths is the same either way, and so are the results, bit for bit: the
compiled kernels fuse NumPy's passes without reordering any arithmetic. What
changes is speed (784-256-128-10 on Fashion-MNIST: about 15-20% per epoch,
see ``benchmarks/RESULTS.md``).

- ``"auto"`` (the default): the compiled kernels when Numba is installed
  (``pip install "formicary[fast]"``) and the run is long enough to gain more
  than importing Numba costs (about 0.4 s; see :func:`worth_loading`); NumPy
  otherwise. Once loaded, they serve every later run of the process.
- ``"numpy"``: NumPy only (nothing but NumPy is imported).
- ``"numba"``: the compiled kernels; an ``ImportError`` saying how to install
  them if Numba is missing.

Choose with :func:`use`, or before Python starts with the environment variable
``FORMICARY_BACKEND``. Numba is imported when a training run starts, not when
Formicary is imported, and the compiled kernels are cached on disk, so only
the very first run pays for compiling them (a few seconds). A long-running
process that trains many short runs (a server) can load them up front with
``backend.kernels()``.

>>> import formicary.backend as backend
>>> backend.use("numpy")
>>> backend.name()
'numpy'
>>> backend.use("auto")
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["BACKENDS", "kernels", "name", "use", "worth_loading"]

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
    global _loaded, _tried, generation
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
    generation += 1  # cached per-network plans pick the kernels up
    return accel


def kernels(load: bool = True) -> ModuleType | None:
    """The compiled kernels module if the chosen backend uses it, else None.

    Under ``"auto"`` with ``load=False``, only if it is loaded already: for
    work too small to pay for importing Numba. ``"numba"`` always loads it.
    """
    global _choice
    if _choice is None:
        _choice = _check(os.environ.get("FORMICARY_BACKEND", "auto"), "FORMICARY_BACKEND")
    if _choice == "numpy":
        return None
    if _choice == "numba":
        return _load(strict=True)
    return _load(strict=False) if load else _loaded


#: Seconds a training step saves with the compiled kernels: about
#: ``STEP_SECONDS + PARAMETER_SECONDS * parameters`` (measured: 2-16-16-1 at
#: batch 32 saves 3-5 us a step, 784-256-128-10 at batch 200 about 330 us).
STEP_SECONDS = 3e-6
PARAMETER_SECONDS = 1.3e-9
#: Importing Numba and loading the cached kernels (measured 0.4-0.5 s).
IMPORT_SECONDS = 0.5


def worth_loading(steps: float, parameters: int) -> bool:
    """Whether ``steps`` optimizer steps on ``parameters`` parameters save more than Numba's import costs.

    ``steps`` is the most a run may take (``epochs`` x batches per epoch); early
    stopping can end it sooner, a risk of at most the 0.5 s of the import.
    """
    return steps * (STEP_SECONDS + PARAMETER_SECONDS * parameters) > IMPORT_SECONDS


def name() -> str:
    """The backend in effect: ``"numba"`` or ``"numpy"`` (``"auto"`` resolved)."""
    return "numba" if kernels() is not None else "numpy"
