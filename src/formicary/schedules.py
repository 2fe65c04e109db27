"""Learning-rate schedules: how ``eta`` in ``w = w - eta de/dw`` changes over epochs.

A schedule maps the initial learning rate ``eta_0`` and the epoch number
``t = 0, 1, 2, ...`` to the learning rate used during that epoch.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = ["Constant", "ExponentialDecay", "InverseScaling", "Schedule", "StepDecay", "get"]


@dataclass(frozen=True)
class Schedule:
    """Base class: ``schedule(eta_0, t) -> eta_t``."""

    def __call__(self, initial: float, epoch: int) -> float:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class Constant(Schedule):
    """``eta_t = eta_0``."""

    def __call__(self, initial: float, epoch: int) -> float:
        return initial


@dataclass(frozen=True)
class StepDecay(Schedule):
    """``eta_t = eta_0 * gamma ** floor(t / step_size)``."""

    step_size: int = 10
    gamma: float = 0.5

    def __post_init__(self) -> None:
        if self.step_size < 1 or not 0 < self.gamma <= 1:
            raise ValueError("StepDecay needs step_size >= 1 and 0 < gamma <= 1")

    def __call__(self, initial: float, epoch: int) -> float:
        return initial * self.gamma ** (epoch // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """``eta_t = eta_0 * gamma ** t``."""

    gamma: float = 0.95

    def __post_init__(self) -> None:
        if not 0 < self.gamma <= 1:
            raise ValueError("ExponentialDecay needs 0 < gamma <= 1")

    def __call__(self, initial: float, epoch: int) -> float:
        return initial * self.gamma**epoch


@dataclass(frozen=True)
class InverseScaling(Schedule):
    """``eta_t = eta_0 / (t + 1) ** power_t`` (scikit-learn's ``invscaling``)."""

    power_t: float = 0.5

    def __post_init__(self) -> None:
        if self.power_t < 0:
            raise ValueError("InverseScaling needs power_t >= 0")

    def __call__(self, initial: float, epoch: int) -> float:
        return initial / (epoch + 1) ** self.power_t


_SCHEDULES = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": ExponentialDecay,
    "inverse_scaling": InverseScaling,
}


def get(schedule: str | Schedule | None) -> Schedule:
    """Look a schedule up by name (``constant``, ``step``, ``exponential``, ``inverse_scaling``)."""
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if not isinstance(schedule, str):
        raise TypeError(f"schedule must be a name or a Schedule, got {type(schedule).__name__}")
    key = schedule.strip().lower().replace("-", "_")
    key = {"invscaling": "inverse_scaling", "exp": "exponential"}.get(key, key)
    if key not in _SCHEDULES:
        close = difflib.get_close_matches(key, list(_SCHEDULES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown schedule {schedule!r}.{hint} Valid names: {', '.join(sorted(_SCHEDULES))}"
        )
    return _SCHEDULES[key]()
