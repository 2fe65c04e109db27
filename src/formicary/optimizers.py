"""Optimizers: how a gradient ``de/dw`` becomes a weight update.

The lecture's rule is plain gradient descent,

    w = w - eta de/dw,    b = b - eta de/db,

which :class:`SGD` implements exactly. Momentum, Nesterov momentum, RMSprop and
Adam change how the step is taken; every optimizer updates the parameter
arrays in place, keeps its state (velocities, moment estimates) between calls,
and supports L2 weight decay (``de/dw += weight_decay * w``, weights only, not
biases) and a learning-rate :mod:`schedule <formicary.schedules>`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np

from formicary import schedules as _schedules

__all__ = ["SGD", "Adam", "Optimizer", "RMSprop", "available", "get"]


class Optimizer:
    """Base class. Subclasses implement :meth:`_update` for one parameter array."""

    name = "optimizer"

    def __init__(
        self,
        learning_rate: float,
        *,
        weight_decay: float = 0.0,
        schedule: str | _schedules.Schedule | None = None,
    ) -> None:
        learning_rate = float(learning_rate)
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
        if not np.isfinite(weight_decay) or weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        self.initial_learning_rate = learning_rate
        self.learning_rate = learning_rate
        self.weight_decay = float(weight_decay)
        self.schedule = _schedules.get(schedule)
        self.iterations = 0
        self._state: list[dict[str, np.ndarray]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Apply the schedule: the learning rate used during epoch ``epoch`` (from 0)."""
        self.learning_rate = self.schedule(self.initial_learning_rate, epoch)

    def reset(self) -> None:
        """Forget all state (velocities, moments, step count)."""
        self._state = None
        self.iterations = 0
        self.learning_rate = self.initial_learning_rate

    def step(
        self,
        params: Sequence[np.ndarray],
        grads: Sequence[np.ndarray],
        decay: Sequence[bool] | None = None,
    ) -> None:
        """Update every array in ``params`` in place from its gradient in ``grads``.

        Parameters
        ----------
        params : sequence of ndarray
            The parameters, e.g. ``[W^(1), b^(1), W^(2), b^(2)]``; changed in place.
        grads : sequence of ndarray
            ``de/dparam`` for each, same shapes. Not modified.
        decay : sequence of bool, optional
            Which parameters get weight decay (by default every 2-D array: the
            weights, not the biases).
        """
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
        if self._state is None or len(self._state) != len(params):
            self._state = [{} for _ in params]
        self.iterations += 1
        for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
            if param.shape != grad.shape:
                raise ValueError(
                    f"parameter {i} has shape {param.shape} but its gradient {grad.shape}"
                )
            state = self._state[i]
            scratch = state.get("scratch")
            if scratch is None or scratch.shape != param.shape or scratch.dtype != param.dtype:
                state.clear()
                scratch = state["scratch"] = np.empty_like(param)
            use_decay = decay[i] if decay is not None else param.ndim == 2
            if self.weight_decay and use_decay:
                # g = de/dw + lambda w, into the scratch buffer
                np.multiply(param, self.weight_decay, out=scratch)
                scratch += grad
                grad = scratch
                scratch = state.setdefault("scratch2", np.empty_like(param))
            self._update(param, grad, state, scratch)

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray], tmp: np.ndarray
    ) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for display and for saving with a model."""
        return {
            "name": self.name,
            "learning_rate": self.initial_learning_rate,
            "weight_decay": self.weight_decay,
            "schedule": self.schedule.name,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent: the lecture's ``w = w - eta de/dw``.

    Parameters
    ----------
    learning_rate : float
        ``eta``.
    momentum : float
        ``mu`` in ``v = mu v - eta g``, ``w = w + v`` (0 gives the plain rule).
    nesterov : bool
        Nesterov's look-ahead: ``w = w + mu v - eta g`` after updating ``v``.
    weight_decay : float
        L2 penalty ``lambda``: the gradient becomes ``de/dw + lambda w``.
    schedule : str or Schedule
        How ``eta`` changes with the epoch.
    """

    name = "sgd"

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        *,
        weight_decay: float = 0.0,
        schedule: str | _schedules.Schedule | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, schedule=schedule)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _update(self, param, grad, state, tmp):
        eta = self.learning_rate
        if self.momentum == 0.0:
            # w = w - eta * de/dw
            np.multiply(grad, eta, out=tmp)
            param -= tmp
            return
        velocity = state.get("velocity")
        if velocity is None:
            velocity = state["velocity"] = np.zeros_like(param)
        # v = mu v - eta g
        velocity *= self.momentum
        np.multiply(grad, eta, out=tmp)
        velocity -= tmp
        if self.nesterov:
            # w = w + mu v - eta g
            param -= tmp
            np.multiply(velocity, self.momentum, out=tmp)
            param += tmp
        else:
            param += velocity

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba): per-parameter steps from running moments of the gradient.

    ``m = beta_1 m + (1 - beta_1) g``, ``v = beta_2 v + (1 - beta_2) g^2``,
    ``w = w - eta_t m / (sqrt(v) + epsilon)`` with the bias correction
    ``eta_t = eta sqrt(1 - beta_2^t) / (1 - beta_1^t)``.
    """

    name = "adam"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        *,
        weight_decay: float = 0.0,
        schedule: str | _schedules.Schedule | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, schedule=schedule)
        for label, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {beta!r}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, param, grad, state, tmp):
        m = state.get("m")
        if m is None:
            m = state["m"] = np.zeros_like(param)
            state["v"] = np.zeros_like(param)
        v = state["v"]
        t = self.iterations
        b1, b2 = self.beta_1, self.beta_2
        # m = b1 m + (1 - b1) g
        m *= b1
        np.multiply(grad, 1 - b1, out=tmp)
        m += tmp
        # v = b2 v + (1 - b2) g^2
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - b2
        v += tmp
        step = self.learning_rate * np.sqrt(1 - b2**t) / (1 - b1**t)
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= step
        param -= tmp

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class RMSprop(Optimizer):
    """RMSprop: ``v = rho v + (1 - rho) g^2``, ``w = w - eta g / (sqrt(v) + epsilon)``."""

    name = "rmsprop"

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        epsilon: float = 1e-8,
        *,
        weight_decay: float = 0.0,
        schedule: str | _schedules.Schedule | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, schedule=schedule)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho!r}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, param, grad, state, tmp):
        v = state.get("v")
        if v is None:
            v = state["v"] = np.zeros_like(param)
        v *= self.rho
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - self.rho
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(grad, tmp, out=tmp)
        tmp *= self.learning_rate
        param -= tmp

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


_OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def available() -> list[str]:
    """Names :func:`get` accepts."""
    return sorted(_OPTIMIZERS)


def get(optimizer: str | Optimizer, **kwargs: Any) -> Optimizer:
    """An optimizer from its name (``"sgd"``, ``"adam"``, ``"rmsprop"``) or pass one through."""
    if isinstance(optimizer, Optimizer):
        if kwargs:
            raise TypeError("keyword arguments only apply when the optimizer is given by name")
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be a name or an Optimizer, got {type(optimizer).__name__}")
    key = optimizer.strip().lower()
    if key not in _OPTIMIZERS:
        close = difflib.get_close_matches(key, list(_OPTIMIZERS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown optimizer {optimizer!r}.{hint} Valid names: {', '.join(available())}"
        )
    return _OPTIMIZERS[key](**kwargs)
