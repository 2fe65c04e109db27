"""Formicary: multilayer perceptrons from first principles, on NumPy.

Each neuron is a simple unit, an ant; the network is the ant hill (a
formicary) where the intelligence comes from.

>>> import formicary as fc
>>> net = fc.MLP([3, 2, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
>>> net.layers[0].weights.shape
(2, 3)
"""

from formicary import activations, backend, datasets, losses, metrics, optimizers, schedules
from formicary.activations import Activation, Interval
from formicary.callbacks import Callback, EarlyStopping
from formicary.gradcheck import GradientCheck, gradient_check
from formicary.layers import Dense
from formicary.losses import Loss
from formicary.network import MLP, Gradients, Trace
from formicary.optimizers import SGD, Adam, Optimizer, RMSprop
from formicary.serialization import ModelFileError, load, save
from formicary.training import History, TrainingDivergedError

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "SGD",
    "Activation",
    "Adam",
    "Callback",
    "Dense",
    "EarlyStopping",
    "GradientCheck",
    "Gradients",
    "History",
    "Interval",
    "Loss",
    "ModelFileError",
    "Optimizer",
    "RMSprop",
    "Trace",
    "TrainingDivergedError",
    "__version__",
    "activations",
    "backend",
    "datasets",
    "gradient_check",
    "load",
    "losses",
    "metrics",
    "optimizers",
    "save",
    "schedules",
]
