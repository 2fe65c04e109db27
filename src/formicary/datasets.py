"""Small generated data sets for learning and testing (NumPy only, seeded).

Each function returns ``(X, y)`` with ``X`` of shape ``(n_samples, 2)`` (float64)
and integer labels ``y`` of shape ``(n_samples,)`` (``plane`` returns float targets).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GENERATED", "circles", "gaussians", "moons", "plane", "spirals", "xor"]


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check(n_samples: int, noise: float) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")


def xor(
    n_samples: int | None = None, noise: float = 0.0, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: label 1 when exactly one coordinate is "on".

    With ``n_samples=None``, the four corners ``(0,0)->0, (0,1)->1, (1,0)->1,
    (1,1)->0``. Otherwise points drawn uniformly from ``[-1, 1]^2`` with label
    ``x1 * x2 < 0`` (the quadrant version), plus Gaussian ``noise`` on ``X``.
    """
    if n_samples is None:
        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return X, np.array([0, 1, 1, 0])
    _check(n_samples, noise)
    rng = _rng(seed)
    X = rng.uniform(-1, 1, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)
    return X + rng.normal(0, noise, size=X.shape), y


def circles(
    n_samples: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: the inner one (radius ``factor``) is class 1."""
    _check(n_samples, noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = _rng(seed)
    n_inner = n_samples // 2
    n_outer = n_samples - n_inner
    angle = rng.uniform(0, 2 * np.pi, size=n_samples)
    radius = np.concatenate([np.ones(n_outer), np.full(n_inner, factor)])
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    X += rng.normal(0, noise, size=X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def moons(
    n_samples: int = 200, noise: float = 0.1, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles."""
    _check(n_samples, noise)
    rng = _rng(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    t_upper = rng.uniform(0, np.pi, size=n_upper)
    t_lower = rng.uniform(0, np.pi, size=n_lower)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    X = np.vstack([upper, lower]) + rng.normal(0, noise, size=(n_samples, 2))
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n_lower, np.int64)])
    order = rng.permutation(n_samples)
    return X[order], y[order]


def spirals(
    n_samples: int = 300,
    noise: float = 0.05,
    n_classes: int = 2,
    turns: float = 1.5,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms, each making ``turns`` turns."""
    _check(n_samples, noise)
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes!r}")
    rng = _rng(seed)
    labels = np.arange(n_samples) % n_classes
    t = rng.uniform(0.05, 1.0, size=n_samples)
    angle = 2 * np.pi * turns * t + 2 * np.pi * labels / n_classes
    X = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
    X += rng.normal(0, noise, size=X.shape)
    order = rng.permutation(n_samples)
    return X[order], labels[order].astype(np.int64)


def gaussians(
    n_samples: int = 200,
    noise: float = 1.0,
    n_classes: int = 2,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs of standard deviation ``noise`` around centres on a circle of radius 3."""
    _check(n_samples, noise)
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes!r}")
    rng = _rng(seed)
    labels = np.arange(n_samples) % n_classes
    angles = 2 * np.pi * np.arange(n_classes) / n_classes + np.pi / 4
    centres = 3 * np.column_stack([np.cos(angles), np.sin(angles)])
    X = centres[labels] + rng.normal(0, noise, size=(n_samples, 2))
    order = rng.permutation(n_samples)
    return X[order], labels[order].astype(np.int64)


def plane(
    n_samples: int = 200, noise: float = 0.1, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A regression plane ``y = 0.5 x1 - 0.3 x2 + 0.2`` plus Gaussian noise."""
    _check(n_samples, noise)
    rng = _rng(seed)
    X = rng.uniform(-1, 1, size=(n_samples, 2))
    y = 0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.2 + rng.normal(0, noise, size=n_samples)
    return X, y


GENERATED = {
    "xor": xor,
    "circles": circles,
    "moons": moons,
    "spirals": spirals,
    "gaussians": gaussians,
    "plane": plane,
}
