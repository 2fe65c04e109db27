"""``formicary train``, ``evaluate``, ``predict`` and ``info``: networks on tables without Python.

``train`` reads a CSV/Parquet file (or a built-in data set), fits the
preprocessing (:mod:`formicary.preprocessing`), trains an MLP with a live
progress bar and saves one model file holding the weights *and* the
preprocessing. ``evaluate`` and ``predict`` re-apply that preprocessing,
reading the data in chunks so that files larger than memory work; every file
they write appears atomically (a temporary file renamed at the end). Bad
input gives one line ``error: ...`` on stderr and exit code 2.

Each command lives in its own module (:mod:`formicary.cli.train`,
:mod:`~formicary.cli.evaluate`, :mod:`~formicary.cli.predict`,
:mod:`~formicary.cli.info`); this one registers them on the app. pandas,
pyarrow, rich and scikit-learn are imported inside the commands, so
``formicary --help`` stays fast.
"""

from __future__ import annotations

import typer

from formicary.cli.common import handle_errors
from formicary.cli.evaluate import EVALUATE_EPILOG, evaluate
from formicary.cli.info import INFO_EPILOG, info
from formicary.cli.predict import PREDICT_EPILOG, predict
from formicary.cli.scores import ClassificationScores, RegressionScores
from formicary.cli.train import TRAIN_EPILOG, train

__all__ = ["ClassificationScores", "RegressionScores", "register"]


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate``, ``predict`` and ``info`` to the ``formicary`` app."""
    app.command("train", epilog=TRAIN_EPILOG)(handle_errors(train))
    app.command("evaluate", epilog=EVALUATE_EPILOG)(handle_errors(evaluate))
    app.command("predict", epilog=PREDICT_EPILOG)(handle_errors(predict))
    app.command("info", epilog=INFO_EPILOG)(handle_errors(info))
