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
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from formicary import backend as _backend
from formicary import schedules as _schedules

__all__ = ["SGD", "Adam", "Optimizer", "RMSprop", "available", "get"]


#: Elementwise updates run over chunks of this many bytes, so that one chunk of
#: the parameter, its gradient, every state array and the scratch buffer stay in
#: the core's L2 cache across the update's passes (no full-size temporaries).
CHUNK_BYTES = 1 << 18


_Chunk = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]

#: Every this many steps, state values too small to be normal floats are set to 0.
FLUSH_EVERY = 64


def _flush_subnormals(array: np.ndarray, tmp: np.ndarray) -> None:
    """Set entries below the smallest normal float to exactly 0 (three passes, no allocation).

    Moments of parameters whose gradient is 0 for a while (a pixel that is
    blank in every image of recent batches) decay geometrically, ``m = beta m``,
    into the subnormal range, where every arithmetic operation on them is tens
    of times slower on x86 (measured: an epoch of Fashion-MNIST got 13% slower
    by the 8th epoch). Such values are far below anything that changes a
    weight, so zeroing them changes no result that matters.
    """
    np.abs(array, out=tmp)
    np.greater_equal(tmp, np.finfo(array.dtype).tiny, out=tmp)
    array *= tmp


def _fusable(param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> bool:
    """Whether a compiled kernel can update ``param`` in place with the NumPy path's results."""
    dtype = param.dtype
    arrays = (param, grad, *state.values())
    return dtype.kind == "f" and all(
        a.dtype == dtype and a.flags.c_contiguous and a.shape == param.shape for a in arrays
    )


def _segments(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """One 1-D array spanning ``arrays`` if they lie back to back in one buffer, else None.

    That is the layout :class:`~formicary.network.MLP` gives its parameters (and
    its training workspace the gradients), so an update can treat all of them
    as one vector: a handful of NumPy calls per step instead of a handful per
    parameter array.
    """
    first = arrays[0]
    base = first.base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    dtype = first.dtype
    start = first.__array_interface__["data"][0]
    address = start
    for array in arrays:
        if (
            array.base is not base
            or array.dtype != dtype
            or not array.flags.c_contiguous
            or array.__array_interface__["data"][0] != address
        ):
            return None
        address += array.nbytes
    offset = (start - base.__array_interface__["data"][0]) // dtype.itemsize
    return base[offset : offset + (address - start) // dtype.itemsize]


class Optimizer:
    """Base class. Subclasses implement :meth:`_update` for one parameter array.

    A subclass whose update is element by element and whose state is a set of
    arrays shaped like the parameter (named in ``_state_keys``) sets
    ``_elementwise = True``; it is then run over all parameters at once when
    they share one buffer, in cache-sized chunks, with the state kept as views
    of one vector per key. Other subclasses get one call per parameter array
    with a full-size scratch array ``tmp``, as documented for :meth:`_update`.
    """

    name = "optimizer"
    _elementwise = False
    _state_keys: tuple[str, ...] = ()

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
        self._group: tuple[np.ndarray, dict[str, np.ndarray]] | None = None
        self._layout: tuple[list[np.ndarray], list[np.ndarray], Any] | None = None
        self._scratch: np.ndarray | None = None
        self._decayed: np.ndarray | None = None
        # (params, grads, chunks) of the last whole-vector update, replayed while the
        # same arrays come back (every step of a training run)
        self._plan: tuple[list[np.ndarray], list[np.ndarray], list[_Chunk]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Apply the schedule: the learning rate used during epoch ``epoch`` (from 0)."""
        self.learning_rate = self.schedule(self.initial_learning_rate, epoch)

    def reset(self) -> None:
        """Forget all state (velocities, moments, step count)."""
        self._state = None
        self._group = None
        self._layout = None
        self._plan = None
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
        plan = self._plan
        if (
            plan is not None
            and not self.weight_decay
            and len(params) == len(plan[0])
            and len(grads) == len(plan[1])
            and all(a is b for a, b in zip(plan[0], params, strict=True))
            and all(a is b for a, b in zip(plan[1], grads, strict=True))
        ):
            self.iterations += 1
            self._execute(plan[2])
            return
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
        if self._state is None or len(self._state) != len(params):
            self._state = [{} for _ in params]
            self._group = None
        for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
            if param.shape != grad.shape:
                raise ValueError(
                    f"parameter {i} has shape {param.shape} but its gradient {grad.shape}"
                )
        self.iterations += 1
        if self.weight_decay:
            grads = self._with_weight_decay(params, grads, decay)
        if not self._elementwise:
            for param, grad, state in zip(params, grads, self._state, strict=True):
                scratch = state.get("scratch")
                if scratch is None or scratch.shape != param.shape or scratch.dtype != param.dtype:
                    state.clear()
                    scratch = state["scratch"] = np.empty_like(param)
                self._update(param, grad, state, scratch)
            return
        flat = self._flat_layout(params, grads)
        if flat is not None:
            flat_param, flat_grad = flat
            chunks = self._chunks(flat_param, flat_grad, self._group_state(params, flat_param))
            if not self.weight_decay:
                self._plan = (list(params), list(grads), chunks)
            self._execute(chunks)
            return
        for param, grad, state in zip(params, grads, self._state, strict=True):
            self._execute(self._chunks(param, grad, state))

    # ------------------------------------------------------------------ internals
    def _with_weight_decay(
        self,
        params: Sequence[np.ndarray],
        grads: Sequence[np.ndarray],
        decay: Sequence[bool] | None,
    ) -> list[np.ndarray]:
        """``g = de/dw + lambda w`` for the decayed parameters, in one reused buffer."""
        total = sum(p.size for p in params)
        dtype = np.result_type(*params)
        buffer = self._decayed
        if buffer is None or buffer.size != total or buffer.dtype != dtype:
            buffer = self._decayed = np.empty(total, dtype=dtype)
        out, offset = [], 0
        for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
            target = buffer[offset : offset + param.size].reshape(param.shape)
            offset += param.size
            use_decay = decay[i] if decay is not None else param.ndim == 2
            if use_decay:
                np.multiply(param, self.weight_decay, out=target)
                target += grad
            else:
                np.copyto(target, grad)
            out.append(target)
        return out

    def _flat_layout(
        self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``params`` and ``grads`` each as one vector, when both lie back to back in memory."""
        cached = self._layout
        if (
            cached is not None
            and len(cached[0]) == len(params)
            and all(a is b for a, b in zip(cached[0], params, strict=True))
            and all(a is b for a, b in zip(cached[1], grads, strict=True))
        ):
            return cached[2]
        flat_param = _segments(params)
        flat_grad = _segments(grads) if flat_param is not None else None
        result = None
        if flat_grad is not None and flat_grad.dtype == flat_param.dtype:
            result = (flat_param, flat_grad)
        self._layout = (list(params), list(grads), result)
        return result

    def _group_state(
        self, params: Sequence[np.ndarray], flat_param: np.ndarray
    ) -> dict[str, np.ndarray]:
        """State vectors for the whole parameter vector, shared as views with each parameter.

        State built up by earlier per-array calls is copied in, so the two ways
        of calling :meth:`step` can be mixed without losing momentum.
        """
        group = self._group
        if group is not None and group[0] is flat_param:
            return group[1]
        if (
            group is not None
            and group[0].base is flat_param.base
            and (
                group[0].__array_interface__["data"] == flat_param.__array_interface__["data"]
                and group[0].shape == flat_param.shape
            )
        ):
            self._group = (flat_param, group[1])
            return group[1]
        assert self._state is not None
        state: dict[str, np.ndarray] = {}
        for key in self._state_keys:
            vector = np.zeros_like(flat_param)
            offset = 0
            for param, per_param in zip(params, self._state, strict=True):
                view = vector[offset : offset + param.size].reshape(param.shape)
                offset += param.size
                old = per_param.get(key)
                if old is not None and old.shape == param.shape:
                    np.copyto(view, old)
                per_param[key] = view
            state[key] = vector
        self._group = (flat_param, state)
        return state

    def _ensure_state(self, param: np.ndarray, state: dict[str, np.ndarray]) -> None:
        for key in self._state_keys:
            array = state.get(key)
            if array is None or array.shape != param.shape or array.dtype != param.dtype:
                state[key] = np.zeros_like(param)

    def _chunks(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]
    ) -> list[_Chunk]:
        """``param`` cut into cache-sized pieces, each with its gradient, state and scratch."""
        self._ensure_state(param, state)
        size = param.size
        chunk = max(1024, CHUNK_BYTES // param.dtype.itemsize)
        scratch = self._scratch
        need = min(size, chunk)
        if scratch is None or scratch.size < need or scratch.dtype != param.dtype:
            scratch = self._scratch = np.empty(need, dtype=param.dtype)
        if size <= chunk:
            return [(param, grad, state, scratch[:size].reshape(param.shape))]
        flat_p, flat_g = param.reshape(-1), grad.reshape(-1)
        flat_state = {key: state[key].reshape(-1) for key in self._state_keys}
        out = []
        for start in range(0, size, chunk):
            stop = min(start + chunk, size)
            part = {key: value[start:stop] for key, value in flat_state.items()}
            out.append((flat_p[start:stop], flat_g[start:stop], part, scratch[: stop - start]))
        return out

    def _execute(self, chunks: list[_Chunk]) -> None:
        """:meth:`_update` on every chunk (and the periodic flush of subnormal state).

        With the compiled backend (:mod:`formicary.backend`) a chunk whose arrays
        are contiguous and of one dtype goes to :meth:`_compiled` instead: the
        same arithmetic in one pass.
        """
        update = self._update
        compiled = _backend.kernels(load=False)  # fit decides whether loading them pays
        for param, grad, state, tmp in chunks:
            if compiled is not None and _fusable(param, grad, state):
                self._compiled(compiled, param.reshape(-1), grad.reshape(-1), state)
            else:
                update(param, grad, state, tmp)
        if self.iterations % FLUSH_EVERY == 0:
            for _, _, state, tmp in chunks:
                for value in state.values():
                    _flush_subnormals(value, tmp)

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray], tmp: np.ndarray
    ) -> None:
        """Update ``param`` in place; ``tmp`` is scratch space of the same shape."""
        raise NotImplementedError

    def _compiled(
        self, kernels: Any, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]
    ) -> None:
        """:meth:`_update` by a fused kernel of :mod:`formicary.accel` (flat arrays)."""
        self._update(param, grad, state, np.empty_like(param))

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
    _elementwise = True

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
        self._state_keys = ("velocity",) if self.momentum else ()

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

    def _compiled(self, kernels, param, grad, state):
        cast = param.dtype.type
        if self.momentum == 0.0:
            kernels.sgd(param, grad, cast(self.learning_rate))
            return
        velocity = state["velocity"].reshape(-1)
        kernels.sgd_momentum(
            param, grad, velocity, cast(self.momentum), cast(self.learning_rate), self.nesterov
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba): per-parameter steps from running moments of the gradient.

    ``m = beta_1 m + (1 - beta_1) g``, ``v = beta_2 v + (1 - beta_2) g^2``,
    ``w = w - eta_t m / (sqrt(v) + epsilon)`` with the bias correction
    ``eta_t = eta sqrt(1 - beta_2^t) / (1 - beta_1^t)``.
    """

    name = "adam"
    _elementwise = True
    _state_keys = ("m", "v")

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
        # The moments are kept divided by (1 - beta): M = m / (1 - beta_1) and
        # V = v / (1 - beta_2), which makes each update two or three passes
        # (M = beta_1 M + g, V = beta_2 V + g^2) instead of four, and the
        # constant factors move into the scalar step:
        #   m / (sqrt(v) + eps) = (1 - b1) / sqrt(1 - b2) * M / (sqrt(V) + eps / sqrt(1 - b2))
        m, v = state["m"], state["v"]
        t = self.iterations
        b1, b2 = self.beta_1, self.beta_2
        root = math.sqrt(1 - b2)
        m *= b1
        m += grad
        np.multiply(grad, grad, out=tmp)
        v *= b2
        v += tmp
        step = self.learning_rate * math.sqrt(1 - b2**t) / (1 - b1**t) * (1 - b1) / root
        np.sqrt(v, out=tmp)
        tmp += self.epsilon / root
        np.divide(m, tmp, out=tmp)
        tmp *= step
        param -= tmp

    def _compiled(self, kernels, param, grad, state):
        t = self.iterations
        b1, b2 = self.beta_1, self.beta_2
        root = math.sqrt(1 - b2)
        step = self.learning_rate * math.sqrt(1 - b2**t) / (1 - b1**t) * (1 - b1) / root
        cast = param.dtype.type
        m, v = state["m"].reshape(-1), state["v"].reshape(-1)
        kernels.adam(param, grad, m, v, cast(b1), cast(b2), cast(step), cast(self.epsilon / root))

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
    _elementwise = True
    _state_keys = ("v",)

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

    def _compiled(self, kernels, param, grad, state):
        if "v" not in state:
            state["v"] = np.zeros_like(param)
        cast = param.dtype.type
        v = state["v"].reshape(-1)
        kernels.rmsprop(
            param,
            grad,
            v,
            cast(self.rho),
            cast(1 - self.rho),
            cast(self.learning_rate),
            cast(self.epsilon),
        )

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
