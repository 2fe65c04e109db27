"""Training speed: Formicary against scikit-learn's MLPClassifier and PyTorch on the same CPU.

Same architecture, data, optimizer (Adam, learning rate 1e-3, no weight
decay), batch size, dtype, shuffling every epoch and number of epochs in all
three. Each (case, framework) trains in a fresh child process: one warm-up
epoch, then ``--epochs`` timed epochs; the figure is the median seconds per
timed epoch. The matrix-multiply peak is measured in the same run, in a child
with the same dtype and thread count (best square ``C = A B``).

GFLOP/s counts, per epoch, ``2NW`` (forward) + ``2NW`` (weight gradients) +
``2N(W - W_1)`` (deltas of the hidden layers), with ``N`` samples, ``W`` all
weights and ``W_1`` the first layer's.

Run (about 15 minutes on 2 cores; ``--quick`` about 2)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train.py --write

``--write`` updates the training section of ``benchmarks/RESULTS.md``; the
raw numbers go to ``benchmarks/results/train.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

import _common as common

#: "formicary" runs with the default backend (compiled kernels when Numba is
#: installed, see formicary.backend); "formicary-numpy" forces NumPy only.
FRAMEWORKS = ("formicary", "formicary-numpy", "sklearn", "torch")
LEARNING_RATE = 1e-3


# =========================================================================== child side


def _data(spec: dict[str, Any]) -> tuple[Any, Any, str]:
    if tuple(spec["sizes"]) == common.SMALL:
        return common.small_problem(spec["dtype"])
    return common.fashion_mnist(spec["dtype"])


def _train_formicary(spec: dict[str, Any], X: Any, y: Any, marks: list) -> dict[str, Any]:
    import formicary as fc

    small = tuple(spec["sizes"]) == common.SMALL
    net = fc.MLP(
        spec["sizes"],
        activation=spec["activation"],
        output_activation="sigmoid" if small else "softmax",
        seed=0,
        dtype=spec["dtype"],
    )

    class Marks(fc.Callback):
        def on_epoch_end(self, net: Any, epoch: int, logs: dict[str, Any]) -> None:
            marks.append(common.rss_mb("VmHWM"))

    history = net.fit(
        X,
        y,
        optimizer=fc.Adam(LEARNING_RATE),
        epochs=spec["warmup"] + spec["epochs"],
        batch_size=spec["batch"],
        seed=0,
        callbacks=[Marks()],
    )
    return {
        "seconds": list(history.seconds),
        "loss": list(history.loss),
        "backend": fc.backend.name(),
        "param_dtype": str(net.parameters()[0].dtype),
        "parameters": net.parameter_count,
    }


def _train_sklearn(spec: dict[str, Any], X: Any, y: Any, marks: list) -> dict[str, Any]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    stamps: list[float] = []

    class Timed(MLPClassifier):
        # called once at the end of every epoch of _fit_stochastic
        def _update_no_improvement_count(self, *args: Any, **kwargs: Any) -> Any:
            stamps.append(time.perf_counter())
            marks.append(common.rss_mb("VmHWM"))
            return super()._update_no_improvement_count(*args, **kwargs)

    epochs = spec["warmup"] + spec["epochs"]
    clf = Timed(
        hidden_layer_sizes=tuple(spec["sizes"][1:-1]),
        activation={"sigmoid": "logistic"}.get(spec["activation"], spec["activation"]),
        solver="adam",
        alpha=0.0,
        batch_size=spec["batch"],
        learning_rate_init=LEARNING_RATE,
        max_iter=epochs,
        shuffle=True,
        random_state=0,
        tol=0.0,
        n_iter_no_change=10 * epochs,
    )
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    times = [b - a for a, b in zip([began, *stamps[:-1]], stamps, strict=True)]
    return {
        "seconds": times,
        "loss": list(clf.loss_curve_),
        "param_dtype": str(clf.coefs_[0].dtype),
        "parameters": sum(c.size for c in clf.coefs_) + sum(b.size for b in clf.intercepts_),
    }


def _train_torch(spec: dict[str, Any], X: Any, y: Any, marks: list) -> dict[str, Any]:
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    dtype = {"float32": torch.float32, "float64": torch.float64}[spec["dtype"]]
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[spec["activation"]]
    sizes = spec["sizes"]
    modules: list[Any] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        modules.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            modules.append(act())
    model = torch.nn.Sequential(*modules).to(dtype)
    small = tuple(sizes) == common.SMALL
    inputs = torch.from_numpy(X)
    if small:
        targets = torch.from_numpy(y.reshape(-1, 1).astype(X.dtype))
        loss_fn: Any = torch.nn.BCEWithLogitsLoss()
    else:
        targets = torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(0)
    n, batch = inputs.shape[0], spec["batch"]
    seconds, losses = [], []
    for _ in range(spec["warmup"] + spec["epochs"]):
        began = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch):
            index = order[start : start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs[index]), targets[index])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        seconds.append(time.perf_counter() - began)
        losses.append(total / n)
        marks.append(common.rss_mb("VmHWM"))
    return {
        "seconds": seconds,
        "loss": losses,
        "param_dtype": str(next(model.parameters()).dtype),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def child(spec: dict[str, Any]) -> dict[str, Any]:
    blas = common.limit_threads(spec["threads"])
    if spec["kind"] == "peak":
        return {**common.matmul_peak(spec["dtype"]), "blas": blas}
    import numpy as np

    X, y, source = _data(spec)
    # Warm the BLAS (its buffers are allocated on first use) before the memory baseline.
    warm = np.ones((512, 512), dtype=X.dtype)
    warm @ warm
    if spec["framework"] == "torch":
        import torch  # imported before the baseline too: its libraries are not training memory

        torch.set_num_threads(spec["threads"])
        warm_t = torch.ones(512, 512, dtype=torch.float64)
        (warm_t @ warm_t).sum()
    elif spec["framework"] == "sklearn":
        import sklearn.neural_network  # noqa: F401
    else:
        import formicary.backend

        # The kernels (Numba, LLVM, the compiled code) are loaded before the baseline,
        # like the other frameworks' libraries, by one step of a tiny network: they
        # are code, not training memory.
        formicary.backend.use("numpy" if spec["framework"] == "formicary-numpy" else "auto")
        formicary.backend.kernels()  # loaded now, whatever the length of the run
        small = tuple(spec["sizes"]) == common.SMALL
        warm_net = formicary.MLP(
            [4, 3, 2],
            activation=spec["activation"],
            output_activation="sigmoid" if small else "softmax",
            dtype=spec["dtype"],
        )
        targets = np.eye(2, dtype=X.dtype)[[0, 1, 0, 1]]
        warm_net.fit(np.ones((4, 4), dtype=X.dtype), targets, optimizer=formicary.Adam())
    gc.collect()
    tracked = common.reset_peak_rss()
    before = common.rss_mb()
    marks: list[float] = []
    trainer = {
        "formicary": _train_formicary,
        "formicary-numpy": _train_formicary,
        "sklearn": _train_sklearn,
        "torch": _train_torch,
    }[spec["framework"]]
    result = trainer(spec, X, y, marks)
    result.update(
        {
            "rss_before_mb": before,
            "peak_rss_mb": common.rss_mb("VmHWM") if tracked else float("nan"),
            "peak_after_each_epoch_mb": marks if tracked else [],
            "data_mb": (X.nbytes + y.nbytes) / 2**20,
            "source": source,
            "blas": blas,
            "load_average": os.getloadavg(),
        }
    )
    return result


# =========================================================================== parent side


def cases(quick: bool, threads: list[int]) -> list[dict[str, Any]]:
    out = []
    for t in threads:
        for dtype in ("float32", "float64"):
            for batch in (200, 1024):
                for activation in ("sigmoid", "relu"):
                    if quick and (dtype, batch, activation) != ("float32", 200, "sigmoid"):
                        continue
                    out.append(
                        {
                            "sizes": list(common.BIG),
                            "activation": activation,
                            "dtype": dtype,
                            "batch": batch,
                            "threads": t,
                        }
                    )
            if not quick or dtype == "float32":
                out.append(
                    {
                        "sizes": list(common.SMALL),
                        "activation": "relu",
                        "dtype": dtype,
                        "batch": 32,
                        "threads": t,
                    }
                )
    return out


def label(case: dict[str, Any]) -> str:
    net = "-".join(map(str, case["sizes"]))
    return (
        f"{net} {case['activation']} {case['dtype']} batch {case['batch']}, {case['threads']} thr"
    )


def summarise(case: dict[str, Any], runs: dict[str, list[dict]], peak: float) -> dict[str, Any]:
    n = 60_000 if tuple(case["sizes"]) == common.BIG else common.SMALL_ROWS
    flops = common.flops_per_epoch(tuple(case["sizes"]), n)
    batches = -(-n // case["batch"])
    rows = {}
    for name, results in runs.items():
        timed = [s for r in results for s in r["seconds"][r.get("warmup", 1) :]]
        median = statistics.median(timed)
        peaks = [r["peak_rss_mb"] for r in results]
        marks = results[0]["peak_after_each_epoch_mb"]
        rows[name] = {
            "seconds_per_epoch": median,
            "all_seconds": timed,
            "per_batch_us": median / batches * 1e6,
            "gflops": flops / median / 1e9,
            "percent_of_peak": 100.0 * flops / median / 1e9 / peak,
            "peak_rss_mb": max(peaks),
            "extra_mb": max(r["peak_rss_mb"] - r["rss_before_mb"] for r in results),
            "growth_after_first_epoch_mb": (marks[-1] - marks[0]) if len(marks) > 1 else 0.0,
            "data_mb": results[0]["data_mb"],
            "final_loss": results[0]["loss"][-1],
            "param_dtype": results[0]["param_dtype"],
            "parameters": results[0]["parameters"],
            "interference_cpus": max(r.get("interference_cpus", 0.0) for r in results),
            "backend": results[0].get("backend"),
        }
    ours = rows["formicary"]["seconds_per_epoch"]
    for row in rows.values():
        row["ratio"] = row["seconds_per_epoch"] / ours
    return {"case": case, "label": label(case), "peak_gflops": peak, "rows": rows}


def markdown(summary: list[dict[str, Any]], info: dict[str, Any], args: Any) -> str:
    command = (
        "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /root/venv/bin/python "
        f"benchmarks/bench_train.py --epochs {args.epochs} --repeats {args.repeats}"
        + (" --quick" if args.quick else "")
        + f" --threads {','.join(map(str, args.threads))} --write"
    )
    lines = [
        "## Training",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')}, regenerate with",
        "",
        f"    {command}",
        "",
        common.machine_markdown(info),
        f"- Data: {summary[0]['source'] if summary else ''}; "
        f"{args.epochs} timed epochs after 1 warm-up epoch, x{args.repeats} fresh processes, "
        "median; Adam(lr=1e-3), shuffled every epoch, no weight decay",
        "",
        "Formicary (fast) is the default with the `fast` extra installed (compiled "
        "element-wise kernels, see `formicary.backend`); Formicary (NumPy only) is the "
        "same engine with `FORMICARY_BACKEND=numpy`, bit-for-bit the same results. "
        "Ratio = that framework's seconds per epoch / Formicary (fast)'s (above 1: Formicary is "
        "faster). Peak RSS = the process's resident-set high-water mark during training "
        "(reset after the data was loaded); extra = peak minus the resident set just "
        "before training (data, libraries and interpreter already loaded); growth = "
        "the high-water mark after the last epoch minus after the first. Other load = CPUs "
        "kept busy by other processes during the run (runs are started when the machine "
        "is quiet and repeated if disturbed; the least disturbed run is kept).",
        "",
        "| case | framework | s/epoch | per batch | ratio | GFLOP/s | % of peak | peak RSS MiB "
        "| extra MiB | growth MiB | final loss | other load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for item in summary:
        for name, row in item["rows"].items():
            per_batch = row["per_batch_us"]
            per_batch_text = (
                f"{per_batch / 1000:.2f} ms" if per_batch >= 1000 else f"{per_batch:.0f} us"
            )
            lines.append(
                f"| {item['label']} (peak {item['peak_gflops']:.0f} GFLOP/s) | {common.framework_label(name)} "
                f"| {row['seconds_per_epoch']:.3f} | {per_batch_text} | {row['ratio']:.2f} "
                f"| {row['gflops']:.1f} | {row['percent_of_peak']:.0f}% "
                f"| {row['peak_rss_mb']:.0f} | {row['extra_mb']:.1f} "
                f"| {row['growth_after_first_epoch_mb']:.1f} | {row['final_loss']:.4f} "
                f"| {row['interference_cpus']:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few cases, 1 timed epoch")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs (default 3)")
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per case")
    common.add_run_options(parser, FRAMEWORKS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    args.threads = [int(t) for t in args.threads.split(",")]
    if args.epochs is None:
        args.epochs = 1 if args.quick else 3
    frameworks = args.frameworks.split(",")
    info = common.machine()
    print(common.machine_markdown(info), flush=True)
    script = Path(__file__).resolve()
    quiet = {"threshold": args.quiet, "retries": args.retries, "max_wait": args.max_wait}
    peaks: dict[tuple[str, int], float] = {}
    summary = []
    began = time.perf_counter()
    for case in cases(args.quick, args.threads):
        key = (case["dtype"], case["threads"])
        if key not in peaks:
            peak = common.run_quiet(script, {"kind": "peak", **case}, **quiet)
            peaks[key] = peak["gflops"]
            print(f"matmul peak {key}: {peak['gflops']:.1f} GFLOP/s (n={peak['n']})", flush=True)
        runs: dict[str, list[dict]] = {name: [] for name in frameworks}
        for _ in range(args.repeats):
            for name in frameworks:  # interleaved, so that background load hits all alike
                spec = {"kind": "train", "framework": name, "warmup": 1, "epochs": args.epochs}
                runs[name].append(common.run_quiet(script, {**spec, **case}, **quiet))
        item = summarise(case, runs, peaks[key])
        item["source"] = runs[frameworks[0]][0]["source"]
        summary.append(item)
        text = "  ".join(
            f"{n}: {r['seconds_per_epoch']:.3f}s x{r['ratio']:.2f} {r['percent_of_peak']:.0f}%"
            for n, r in item["rows"].items()
        )
        print(f"[{time.perf_counter() - began:5.0f}s] {item['label']}: {text}", flush=True)
    common.publish("train", info, summary, markdown(summary, info, args), args.write)


if __name__ == "__main__":
    main()
