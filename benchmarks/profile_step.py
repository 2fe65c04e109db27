"""Where a Formicary training step spends its time: the evidence behind RESULTS.md.

Two views, for one case (network 784-256-128-10 on Fashion-MNIST, Adam):

1. **Phases of an epoch** (wall time): the matrix products (every ``np.matmul``
   of the training step, timed one by one), the optimizer update, the rest of
   the training step (activations, their derivatives, the output delta, bias
   sums, Python), the loss value, gathering the shuffled batch, the metric,
   and the rest of the epoch loop. The products are what an ideal
   implementation would be left with; everything else is overhead.
2. **The products alone**: each distinct matrix product of a step run in a
   loop on its own, with its GFLOP/s and share of the matrix-multiply peak
   (measured here with the same dtype and threads). This bounds the whole
   epoch: if the products of a step cannot reach 80% of the peak by
   themselves, the epoch cannot either.

Run::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_step.py \\
        --dtype float32 --activation sigmoid --batch 200 --threads 2

For a sampling profile of the same run (line level, native frames)::

    py-spy record -r 1000 -f speedscope -o profile.json -- python benchmarks/profile_step.py ...
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

import _common as common


def _timed(table: collections.Counter, key: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            table[key] += time.perf_counter() - began

    return wrapper


def phases(args: Any) -> dict[str, float]:
    """Seconds per training step in each phase (epochs after the first)."""
    import numpy as np

    import formicary as fc
    import formicary.losses as losses
    import formicary.metrics as metrics
    import formicary.network as network
    import formicary.optimizers as optimizers
    import formicary.training as training

    X, y, _ = common.fashion_mnist(args.dtype)
    spent: collections.Counter = collections.Counter()
    shapes: collections.Counter = collections.Counter()

    # Route the engine's np.matmul and the loop's np.take through timers (the
    # modules' other NumPy calls are untouched).
    def matmul(a: Any, b: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        result = np.matmul(a, b, **kwargs)
        elapsed = time.perf_counter() - began
        spent["matrix products"] += elapsed
        shapes[(a.shape, b.shape)] += elapsed
        return result

    engine_np = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if k[:2] != "__"})
    engine_np.matmul = matmul
    loop_np = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if k[:2] != "__"})
    loop_np.take = _timed(spent, "gather the batch (np.take)", np.take)
    network.np, training.np = engine_np, loop_np  # type: ignore[assignment]
    optimizers.Optimizer.step = _timed(spent, "optimizer update", optimizers.Optimizer.step)
    for cls in (losses.MeanSquaredError, losses.BinaryCrossEntropy, losses.CategoricalCrossEntropy):
        cls.value = _timed(spent, "loss value", cls.value)
    metrics.Accumulator.update = _timed(spent, "metric (accuracy)", metrics.Accumulator.update)
    network.MLP.train_step = _timed(spent, "train_step", network.MLP.train_step)

    net = fc.MLP(
        list(common.BIG),
        activation=args.activation,
        output_activation="softmax",
        seed=0,
        dtype=args.dtype,
    )
    marks: list[collections.Counter] = []

    class Mark(fc.Callback):
        def on_epoch_begin(self, net: Any, epoch: int, logs: dict[str, Any]) -> None:
            marks.append(collections.Counter(spent))
            if epoch == 1:
                shapes.clear()  # the per-product table covers the timed epochs only

    history = net.fit(
        X,
        y,
        optimizer=fc.Adam(1e-3),
        epochs=args.epochs + 1,
        batch_size=args.batch,
        seed=0,
        callbacks=[Mark()],
    )
    spent_timed = collections.Counter(spent)
    spent_timed.subtract(marks[1])  # drop the warm-up epoch
    steps = args.epochs * -(-X.shape[0] // args.batch)
    total = sum(history.seconds[1:])
    out = {k: v / steps for k, v in spent_timed.items()}
    inner = out.pop("train_step")
    out["rest of train_step (activations, deltas, bias sums, Python)"] = (
        inner - out["matrix products"] - out["optimizer update"] - out.get("loss value", 0.0)
    )
    out["rest of the epoch loop"] = (
        total / steps
        - inner
        - sum(out.get(k, 0.0) for k in ("gather the batch (np.take)", "metric (accuracy)"))
    )
    out["total"] = total / steps
    out["seconds per epoch"] = total / args.epochs
    out["_shapes"] = {f"{a} @ {b}": v / steps for (a, b), v in shapes.items()}
    return out


def products_alone(args: Any, peak: float) -> list[tuple[str, float, float]]:
    """Each matrix product of one step, in a loop on its own: (name, microseconds, GFLOP/s)."""
    import numpy as np

    rng = np.random.default_rng(0)
    n, dtype = args.batch, args.dtype
    sizes = common.BIG
    rows = []
    for l, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        a = rng.random((n, n_in)).astype(dtype)
        w = rng.random((n_out, n_in)).astype(dtype)
        d = rng.random((n, n_out)).astype(dtype)
        z = np.empty((n, n_out), dtype=dtype)
        g = np.empty((n_out, n_in), dtype=dtype)
        p = np.empty((n, n_in), dtype=dtype)
        cases = [
            (
                f"z^({l}) = A W^T   ({n}x{n_in} @ {n_in}x{n_out})",
                lambda a=a, w=w, z=z: np.matmul(a, w.T, out=z),
            ),
            (
                f"dW^({l}) = D^T A  ({n_out}x{n} @ {n}x{n_in})",
                lambda a=a, d=d, g=g: np.matmul(d.T, a, out=g),
            ),
        ]
        if l > 1:
            cases.append(
                (
                    f"delta^({l - 1}) = D W ({n}x{n_out} @ {n_out}x{n_in})",
                    lambda d=d, w=w, p=p: np.matmul(d, w, out=p),
                )
            )
        for name, run in cases:
            flops = 2.0 * n * n_in * n_out
            run()
            best = float("inf")
            for _ in range(5):
                reps = max(3, int(2e9 / flops / 50))
                began = time.perf_counter()
                for _ in range(reps):
                    run()
                best = min(best, (time.perf_counter() - began) / reps)
            rows.append((name, best * 1e6, flops / best / 1e9))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after a warm-up")
    args = parser.parse_args()
    blas = common.limit_threads(args.threads)
    print(f"BLAS: {blas}")
    print(f"other load before: {common.wait_until_quiet(0.15, 300):.2f} CPUs")
    peak = common.matmul_peak(args.dtype)["gflops"]
    result = phases(args)
    shapes = result.pop("_shapes")
    total = result["total"]
    flops = common.flops_per_epoch(common.BIG, 60_000)
    print(
        f"\n784-256-128-10 {args.activation} {args.dtype} batch {args.batch}, {args.threads} "
        f"thread(s): {result['seconds per epoch']:.3f} s/epoch, "
        f"{flops / result['seconds per epoch'] / 1e9:.0f} GFLOP/s = "
        f"{100 * flops / result['seconds per epoch'] / 1e9 / peak:.0f}% of the "
        f"{peak:.0f} GFLOP/s peak\n"
    )
    print("| phase | us per step | share |")
    print("|---|---:|---:|")
    for key, value in sorted(result.items(), key=lambda kv: -kv[1]):
        if key in ("total", "seconds per epoch"):
            continue
        print(f"| {key} | {value * 1e6:.0f} | {100 * value / total:.0f}% |")
    print(f"| **total** | **{total * 1e6:.0f}** | 100% |")
    print("\nmatrix products inside the step (us per step):")
    for key, value in sorted(shapes.items(), key=lambda kv: -kv[1]):
        print(f"  {key}: {value * 1e6:.0f}")
    print("\n| product, alone in a loop | us | GFLOP/s | % of peak |")
    print("|---|---:|---:|---:|")
    for name, micros, gflops in products_alone(args, peak):
        print(f"| {name} | {micros:.0f} | {gflops:.0f} | {100 * gflops / peak:.0f}% |")
    print(f"\nother load after: {common.other_load(1):.2f} CPUs")


if __name__ == "__main__":
    main()
