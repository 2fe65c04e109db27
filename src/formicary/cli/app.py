"""The Typer application; command modules register themselves on it.

A command module defines ``register(app: typer.Typer) -> None``. Modules are
listed in ``COMMAND_MODULES``; one whose optional dependency is missing still
lets the others run (its commands then explain how to install the extra).
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = [
    "formicary.cli.data_commands",  # train, evaluate, predict, info
    "formicary.cli.show",  # explain, prove, plot
    "formicary.cli.playground",  # playground
    "formicary.cli.export",  # export
]


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="formicary",
        help="Multilayer perceptrons from first principles: train, explain, plot and play.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that command group is not part of this build
                continue
            raise
        module.register(app)
    return app
