"""Inference speed: rows per second of Formicary, scikit-learn and PyTorch on the same CPU.

The same trained-shape network (random weights: speed does not depend on
them) predicts class probabilities for every row of the data set: Formicary's
``net.predict(X)``, scikit-learn's ``predict_proba(X)``, PyTorch's
``softmax(model(X))`` under ``torch.inference_mode()`` (sigmoid for the small
network). Each (case, framework) runs in a fresh child process: one warm-up
call, then ``--repeats`` timed calls; the figure is the median.

Run::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_predict.py --write
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

import _common as common

#: "formicary" with the default backend (the `fast` extra's compiled kernels,
#: loaded as they are after training in the same process); "formicary-numpy"
#: with NumPy only.
FRAMEWORKS = ("formicary", "formicary-numpy", "sklearn", "torch")


def _predictor(spec: dict[str, Any], X: Any, y: Any) -> Any:
    """A function ``X -> probabilities`` for the spec's framework."""
    import numpy as np

    sizes = spec["sizes"]
    small = tuple(sizes) == common.SMALL
    if spec["framework"].startswith("formicary"):
        import formicary as fc

        fc.backend.use("numpy" if spec["framework"] == "formicary-numpy" else "auto")
        fc.backend.kernels()

        net = fc.MLP(
            sizes,
            activation=spec["activation"],
            output_activation="sigmoid" if small else "softmax",
            seed=0,
            dtype=spec["dtype"],
        )
        return net.predict
    if spec["framework"] == "sklearn":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        clf = MLPClassifier(
            hidden_layer_sizes=tuple(sizes[1:-1]),
            activation={"sigmoid": "logistic"}.get(spec["activation"], spec["activation"]),
            max_iter=1,
            batch_size=len(X),
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X[:2000], y[:2000])  # sets up the weights (dtype follows X)
        return clf.predict_proba
    import torch

    torch.set_num_threads(spec["threads"])
    dtype = {"float32": torch.float32, "float64": torch.float64}[spec["dtype"]]
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[spec["activation"]]
    modules: list[Any] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        modules.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            modules.append(act())
    modules.append(torch.nn.Sigmoid() if small else torch.nn.Softmax(dim=1))
    model = torch.nn.Sequential(*modules).to(dtype).eval()

    def predict(data: Any) -> Any:
        with torch.inference_mode():
            return model(torch.from_numpy(data)).numpy()

    del np
    return predict


def child(spec: dict[str, Any]) -> dict[str, Any]:
    blas = common.limit_threads(spec["threads"])
    if tuple(spec["sizes"]) == common.SMALL:
        X, y, source = common.small_problem(spec["dtype"])
    else:
        X, y, source = common.fashion_mnist(spec["dtype"])
    predict = _predictor(spec, X, y)
    rows_per_call = spec.get("rows_per_call")
    if rows_per_call:  # many small calls (online use): 200 calls of rows_per_call rows
        X = X[: 200 * rows_per_call]
        chunks = [X[i : i + rows_per_call] for i in range(0, X.shape[0], rows_per_call)]

        def run() -> Any:
            for chunk in chunks:
                out = predict(chunk)
            return out
    else:

        def run() -> Any:
            return predict(X)

    out = run()  # warm-up (allocators, thread pools)
    seconds = []
    for _ in range(spec["repeats"]):
        began = time.perf_counter()
        out = run()
        seconds.append(time.perf_counter() - began)
    return {
        "seconds": seconds,
        "rows": int(X.shape[0]),
        "out_dtype": str(out.dtype),
        "out_shape": list(out.shape),
        "source": source,
        "blas": blas,
        "load_average": os.getloadavg(),
    }


def cases(quick: bool, threads: list[int]) -> list[dict[str, Any]]:
    out = []
    for t in threads:
        for dtype in ("float32", "float64"):
            for activation in ("sigmoid", "relu"):
                if quick and (dtype, activation) != ("float32", "sigmoid"):
                    continue
                big = {"sizes": list(common.BIG), "activation": activation, "dtype": dtype}
                out.append(big | {"threads": t})
                if activation == "sigmoid":
                    out.append(big | {"threads": t, "rows_per_call": 64})
        small = {"sizes": list(common.SMALL), "activation": "relu", "dtype": "float32"}
        out.append(small | {"threads": t})
        out.append(small | {"threads": t, "rows_per_call": 64})
    return out


def label(case: dict[str, Any]) -> str:
    net = "-".join(map(str, case["sizes"]))
    calls = (
        f"{case['rows_per_call']} rows per call"
        if case.get("rows_per_call")
        else "all rows in one call"
    )
    return f"{net} {case['activation']} {case['dtype']}, {calls}, {case['threads']} thr"


def markdown(summary: list[dict[str, Any]], info: dict[str, Any], args: Any) -> str:
    command = (
        "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /root/venv/bin/python "
        f"benchmarks/bench_predict.py --repeats {args.repeats}"
        + (" --quick" if args.quick else "")
        + f" --threads {','.join(map(str, args.threads))} --write"
    )
    lines = [
        "## Prediction",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')}, regenerate with",
        "",
        f"    {command}",
        "",
        common.machine_markdown(info),
        f"- Data: {summary[0]['source'] if summary else ''}; all 60,000 rows (20,000 for the "
        "small network) in one call, or 200 calls of 64 rows each (online use); median of "
        f"{args.repeats} runs after a warm-up run, in a fresh process per case and framework",
        "",
        "Speed-up = Formicary (fast)'s rows per second / that framework's. Formicary (fast) "
        "runs with the `fast` extra's compiled kernels loaded, Formicary (NumPy only) with "
        "`FORMICARY_BACKEND=numpy`; their outputs are bit for bit the same.",
        "",
        "| case | framework | rows/s | ms per call | Formicary speed-up | other load |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for item in summary:
        for name, row in item["rows"].items():
            lines.append(
                f"| {item['label']} | {common.framework_label(name)} | {row['rows_per_second']:,.0f} "
                f"| {row['seconds'] * 1000:.1f} | {row['speedup']:.2f} "
                f"| {row['interference_cpus']:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few cases, 3 repeats")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per case (median)")
    common.add_run_options(parser, FRAMEWORKS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    args.threads = [int(t) for t in args.threads.split(",")]
    if args.quick:
        args.repeats = min(args.repeats, 3)
    frameworks = args.frameworks.split(",")
    info = common.machine()
    print(common.machine_markdown(info), flush=True)
    script = Path(__file__).resolve()
    quiet = {"threshold": args.quiet, "retries": args.retries, "max_wait": args.max_wait}
    summary = []
    for case in cases(args.quick, args.threads):
        rows = {}
        source = ""
        for name in frameworks:
            spec = {"kind": "predict", "framework": name, "repeats": args.repeats, **case}
            result = common.run_quiet(script, spec, **quiet)
            seconds = statistics.median(result["seconds"])
            source = result["source"]
            rows[name] = {
                "seconds": seconds,
                "rows_per_second": result["rows"] / seconds,
                "interference_cpus": result.get("interference_cpus", 0.0),
                "out_dtype": result["out_dtype"],
            }
        ours = rows["formicary"]["rows_per_second"]
        for row in rows.values():
            row["speedup"] = ours / row["rows_per_second"]
        summary.append({"case": case, "label": label(case), "rows": rows, "source": source})
        text = "  ".join(
            f"{n}: {r['rows_per_second']:,.0f} rows/s x{r['speedup']:.2f}" for n, r in rows.items()
        )
        print(f"{label(case)}: {text}", flush=True)
    common.publish("predict", info, summary, markdown(summary, info, args), args.write)


if __name__ == "__main__":
    main()
