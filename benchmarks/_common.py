"""Shared pieces of the benchmarks: data, machine description, FLOP counts, memory, peak.

Every measurement runs in a fresh child process (``python bench_x.py --child
SPEC``) so that each framework starts cold with its own thread pools, its
peak memory is its own, and the thread count is fixed before NumPy or PyTorch
load (``OPENBLAS_NUM_THREADS`` and friends, then threadpoolctl and
``torch.set_num_threads`` on top).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
FASHION = Path(os.environ.get("FORMICARY_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
BIG = (784, 256, 128, 10)
SMALL = (2, 16, 16, 1)
SMALL_ROWS = 20_000
THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


# --------------------------------------------------------------------------- data


def _idx(path: Path, offset: int) -> bytes:
    with gzip.open(path) as stream:
        return stream.read()[offset:]


def fashion_mnist(dtype: str) -> tuple[Any, Any, str]:
    """The 60,000 training images as ``(X in [0, 1], labels, source)``.

    Generated data of the same shape and value range when the Debian package
    ``dataset-fashion-mnist`` is not installed.
    """
    import numpy as np

    images = FASHION / "train-images-idx3-ubyte.gz"
    labels = FASHION / "train-labels-idx1-ubyte.gz"
    if images.exists() and labels.exists():
        X = np.frombuffer(_idx(images, 16), dtype=np.uint8).reshape(-1, 784)
        y = np.frombuffer(_idx(labels, 8), dtype=np.uint8).astype(np.int64)
        source = f"Fashion-MNIST ({FASHION})"
    else:  # same shape, values and class balance; not learnable like the real thing
        rng = np.random.default_rng(0)
        X = rng.integers(0, 256, size=(60_000, 784), dtype=np.uint8)
        y = np.repeat(np.arange(10), 6_000)
        rng.shuffle(y)
        source = "generated (Fashion-MNIST not installed): uniform pixels, 10 balanced classes"
    out = np.empty(X.shape, dtype=dtype)
    np.divide(X, 255, out=out, dtype=dtype)
    return out, y, source


def small_problem(dtype: str) -> tuple[Any, Any, str]:
    """20,000 points in the plane, label = same sign of both coordinates (a noisy XOR)."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(SMALL_ROWS, 2)).astype(dtype)
    y = ((X[:, 0] * X[:, 1]) > 0).astype(np.int64)
    return X, y, "generated XOR-like points (2 features)"


# --------------------------------------------------------------------------- counting


def weights(sizes: tuple[int, ...]) -> tuple[int, int]:
    """``(W, W_1)``: all weights, and those of the first layer (biases not counted)."""
    per_layer = [a * b for a, b in itertools.pairwise(sizes)]
    return sum(per_layer), per_layer[0]


def flops_per_epoch(sizes: tuple[int, ...], n: int) -> float:
    """``2NW`` forward + ``2NW`` weight gradients + ``2N(W - W_1)`` hidden-layer deltas."""
    w, w1 = weights(sizes)
    return 2.0 * n * w + 2.0 * n * w + 2.0 * n * (w - w1)


# --------------------------------------------------------------------------- memory


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process's resident set (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb(field: str = "VmRSS") -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) in MiB."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: fall back to psutil's current RSS
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


# --------------------------------------------------------------------------- threads


def child_environment(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    return env


def limit_threads(threads: int) -> Any:
    """Hold BLAS/OpenMP pools to ``threads`` for the life of the process; return the BLAS info."""
    import numpy  # noqa: F401  (threadpoolctl only limits libraries already loaded)
    from threadpoolctl import threadpool_info, threadpool_limits

    limiter = threadpool_limits(threads)
    limit_threads.keep = limiter  # type: ignore[attr-defined]
    return [
        {
            k: info.get(k)
            for k in ("internal_api", "version", "architecture", "num_threads", "prefix")
        }
        for info in threadpool_info()
    ]


def _busy_cpu_seconds() -> float:
    """CPU seconds all processes of the machine have been busy (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def other_load(seconds: float = 1.0) -> float:
    """How many CPUs other processes kept busy over the next ``seconds`` (we sleep meanwhile)."""
    try:
        before = _busy_cpu_seconds()
    except (OSError, ValueError, IndexError):
        return 0.0
    time.sleep(seconds)
    return (_busy_cpu_seconds() - before) / seconds


def wait_until_quiet(threshold: float, max_wait: float) -> float:
    """Sleep until other processes use less than ``threshold`` CPUs (at most ``max_wait`` s)."""
    deadline = time.monotonic() + max_wait
    load = other_load()
    while load > threshold and time.monotonic() < deadline:
        load = other_load(2.0)
    return load


def run_quiet(
    script: Path,
    spec: dict[str, Any],
    threshold: float = 0.15,
    retries: int = 3,
    max_wait: float = 120.0,
) -> dict[str, Any]:
    """:func:`run_child` when the machine is quiet; rerun if other processes interfered.

    The machine's busy CPU time during the run minus the child's own CPU time
    is the interference (in CPUs, averaged over the run). The run with the
    least interference is kept and its interference reported.
    """
    best: dict[str, Any] | None = None
    for _ in range(retries + 1):
        wait_until_quiet(threshold, max_wait)
        try:
            busy, own = _busy_cpu_seconds(), _children_cpu_seconds()
        except (OSError, ValueError, IndexError):
            return run_child(script, spec)
        began = time.perf_counter()
        result = run_child(script, spec)
        wall = time.perf_counter() - began
        result["interference_cpus"] = max(
            0.0, ((_busy_cpu_seconds() - busy) - (_children_cpu_seconds() - own)) / wall
        )
        if best is None or result["interference_cpus"] < best["interference_cpus"]:
            best = result
        if result["interference_cpus"] < threshold:
            break
    assert best is not None
    return best


def run_child(script: Path, spec: dict[str, Any], timeout: float = 1200) -> dict[str, Any]:
    """Run ``script --child SPEC`` with the spec's thread count; its last stdout line is JSON."""
    command = [sys.executable, str(script), "--child", json.dumps(spec)]
    done = subprocess.run(
        command,
        env=child_environment(spec["threads"]),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"child {spec} failed ({done.returncode}):\n{tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- peak


def matmul_peak(dtype: str, sizes: tuple[int, ...] = (1024, 2048, 3072), repeats: int = 5) -> dict:
    """Best GFLOP/s of ``C = A B`` (square, C-ordered) over a few sizes, in this process."""
    import numpy as np

    rng = np.random.default_rng(0)
    best = {"gflops": 0.0, "n": 0}
    for n in sizes:
        a = rng.random((n, n)).astype(dtype)
        b = rng.random((n, n)).astype(dtype)
        c = np.empty((n, n), dtype=dtype)
        np.matmul(a, b, out=c)
        for _ in range(repeats):
            began = time.perf_counter()
            np.matmul(a, b, out=c)
            rate = 2.0 * n**3 / (time.perf_counter() - began) / 1e9
            if rate > best["gflops"]:
                best = {"gflops": rate, "n": n}
    return best


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags() -> list[str]:
    wanted = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16")
    wanted += ("avx512_fp16", "amx_tile", "amx_bf16")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [f for f in wanted if f in present]
    except OSError:
        pass
    return []


def machine() -> dict[str, Any]:
    """What the numbers were measured on (the parent process's view)."""
    import numpy as np
    from threadpoolctl import threadpool_info

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "flags": _cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "blas": [
            f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
            f"{i.get('threading_layer', '?')}) {Path(i.get('filepath', '')).name}"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ],
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        "load_average": os.getloadavg(),
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["physical_cores"] = psutil.cpu_count(logical=False)
    except ImportError:
        pass
    try:
        import sklearn

        info["sklearn"] = sklearn.__version__
    except ImportError:
        info["sklearn"] = None
    try:
        import torch

        config = torch.__config__.show()
        blas = re.search(r"BLAS_INFO=(\w+)", config)
        info["torch"] = torch.__version__
        info["torch_blas"] = blas.group(1) if blas else "?"
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except ImportError:
        info["torch"] = None
    try:
        import formicary

        info["formicary"] = formicary.__version__
    except ImportError:
        info["formicary"] = None
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    try:
        info["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        info["git"] = None
    return info


def machine_markdown(info: dict[str, Any]) -> str:
    env = ", ".join(f"{k}={v}" for k, v in info["openblas_env"].items() if v) or "neither set"
    lines = [
        f"- CPU: {info['cpu']}, {info.get('physical_cores', '?')} cores / "
        f"{info['logical_cpus']} logical CPUs, {info.get('memory_gib', '?')} GiB RAM",
        f"- CPU flags: {', '.join(info['flags'])}",
        f"- NumPy {info['numpy']} with BLAS: {'; '.join(info['blas'])}",
        f"- PyTorch {info.get('torch')} (BLAS {info.get('torch_blas')}, CPU capability "
        f"{info.get('torch_cpu_capability')}); scikit-learn {info.get('sklearn')}; "
        f"Python {info['python']}; Formicary {info.get('formicary')} (git {info.get('git')}); "
        f"Numba {info.get('numba')} (Formicary's `fast` extra)",
        f"- OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the benchmark's environment: {env}",
        f"- {info['platform']}; load average at start {info['load_average'][0]:.2f}",
    ]
    return "\n".join(lines)


def replace_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Put ``body`` between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in RESULTS.md."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def add_run_options(parser: Any, frameworks: tuple[str, ...]) -> None:
    """The options both benchmarks take: threads, frameworks, --write and the quiet-machine rules."""
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="2,1", help="comma-separated thread counts")
    parser.add_argument("--frameworks", default=",".join(frameworks))
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.15,
        help="start a run only when other processes use fewer CPUs than this; rerun if they did",
    )
    parser.add_argument("--retries", type=int, default=3, help="reruns of a disturbed run")
    parser.add_argument("--max-wait", type=float, default=120.0, help="seconds to wait for quiet")


def publish(section: str, info: dict[str, Any], summary: list, report: str, write: bool) -> None:
    """Keep the raw numbers in results/<section>.json, print the report, and with ``write`` put it in RESULTS.md."""
    info["load_average_end"] = os.getloadavg()
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"{section}.json").write_text(
        json.dumps({"machine": info, "cases": summary}, indent=1)
    )
    print(report)
    if write:
        replace_section(section, report)


def framework_label(name: str) -> str:
    """How a framework is named in the tables: Formicary's two backends told apart."""
    if name.startswith("formicary"):
        return f"formicary ({'NumPy only' if name == 'formicary-numpy' else 'fast'})"
    return name
