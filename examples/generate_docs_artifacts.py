"""Regenerate the pictures and samples that docs/show-the-work.md shows.

Run from the repository root (needs the ``explain`` and ``plot`` extras)::

    python examples/generate_docs_artifacts.py

It writes ``docs/images/*.png`` and ``docs/samples/*`` (text, Markdown and LaTeX
explanations of the lecture's 3-2-1 network and the activation-function proof).
Everything is seeded, so the outputs only change when the code does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import formicary as fc
from formicary import explain, plotting, proof


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")


def samples(folder: Path) -> None:
    net, x, y = explain.lecture_example()
    for fmt, suffix in (("text", "txt"), ("markdown", "md"), ("latex", "tex")):
        write(folder / f"forward.{suffix}", explain.forward(net, x, format=fmt, color=False))
        write(
            folder / f"backward.{suffix}",
            explain.backward(net, x, y, learning_rate=0.5, format=fmt, color=False),
        )
        write(
            folder / f"proof.{suffix}",
            proof.report(format=fmt, color=False, seed=0),
        )
    # a mini-batch of three samples: gradients are the mean over the batch
    X = np.array([[1.0, 0.5, -1.0], [0.0, 1.0, 2.0], [-1.0, -0.5, 0.5]])
    Y = np.array([[1.0], [0.0], [1.0]])
    write(
        folder / "backward_batch.md",
        explain.backward(net, X, Y, learning_rate=0.5, format="markdown", max_samples=3),
    )
    # a larger network: sums and layers are summarised
    big = fc.MLP([64, 16, 10], activation="relu", output_activation="softmax", seed=0)
    sample = np.random.default_rng(0).uniform(0, 1, 64)
    write(
        folder / "forward_large.txt",
        explain.forward(big, sample, max_terms=6, max_neurons=4, color=False),
    )


def images(folder: Path) -> None:
    net, x, _ = explain.lecture_example()
    plotting.plot_network(net, sample=x, path=folder / "lecture_network.png")
    plotting.plot_activation("sigmoid", path=folder / "sigmoid.png")
    plotting.plot_activation("relu", path=folder / "relu.png")
    written = plotting.demo(folder, dataset="circles", hidden=(6,), activation="tanh", seed=0)
    # the proof, seen: XOR with and without activation functions
    X, y = fc.datasets.xor(300, seed=0)
    for activation in ("sigmoid", "identity"):
        model = fc.MLP([2, 8, 1], activation=activation, output_activation="sigmoid", seed=0)
        model.fit(X, y, optimizer="adam", learning_rate=0.05, epochs=300, seed=0)
        plotting.plot_decision_boundary(model, X, y, path=folder / f"xor_{activation}.png")
    for path in [*written.values()]:
        print(f"wrote {path}")
    for name in ("lecture_network", "sigmoid", "relu", "xor_sigmoid", "xor_identity"):
        print(f"wrote {folder / (name + '.png')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="the docs folder")
    args = parser.parse_args()
    samples(args.docs / "samples")
    images(args.docs / "images")


if __name__ == "__main__":
    main()
