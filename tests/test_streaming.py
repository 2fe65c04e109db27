"""Out-of-core training (formicary.streaming): same maths as fit, memory bounded by the chunk."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import formicary as fc
from formicary import streaming
from formicary.streaming import (
    evaluate_stream,
    feature_statistics,
    fit_stream,
    is_stream,
    open_stream,
    predict_stream,
)


def moons(n=600, seed=0):
    return fc.datasets.moons(n, noise=0.1, seed=seed)


def same_parameters(a: fc.MLP, b: fc.MLP) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


# --------------------------------------------------------------------------- same maths as fit


@pytest.fixture
def data_files(tmp_path):
    X, y = moons(500)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, X, y


SOURCES = ["array", "npy", "memmap", "memmap_slice", "list", "factory", "target_column"]


def make_source(kind, folder, X, y, chunk):
    if kind == "array":
        return (X, y), {"chunk_size": chunk}
    if kind == "npy":
        return (str(folder / "X.npy"), folder / "y.npy"), {"chunk_size": chunk}
    if kind == "memmap":
        return (np.load(folder / "X.npy", mmap_mode="r"), y), {"chunk_size": chunk}
    if kind == "memmap_slice":  # a view of a map: read through the map, not the file
        mm = np.load(folder / "X.npy", mmap_mode="r")
        return (mm[:, :], y), {"chunk_size": chunk}
    pieces = [(X[i : i + chunk], y[i : i + chunk]) for i in range(0, len(X), chunk)]
    if kind == "list":
        return (pieces,), {}
    if kind == "factory":
        return (lambda: iter(pieces),), {}
    both = np.column_stack([X, y])
    return (both,), {"target": -1, "chunk_size": chunk}


@pytest.mark.parametrize("kind", SOURCES)
def test_unshuffled_stream_takes_exactly_the_batches_of_fit(data_files, kind):
    folder, X, y = data_files
    args, kwargs = make_source(kind, folder, X, y, chunk=77)  # 77 does not divide the batch of 32
    reference = fc.MLP([2, 8, 1], "tanh", "sigmoid", seed=3)
    streamed = reference.copy()
    options = dict(epochs=3, batch_size=32, optimizer="adam", learning_rate=0.01, shuffle=False)
    expected = reference.fit(X, y, **options)
    history = fit_stream(streamed, *args, **kwargs, **options)
    assert same_parameters(reference, streamed)
    assert history.loss == expected.loss
    assert history.metric == expected.metric and history.metric_name == "accuracy"


def test_table_files_stream_like_arrays(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, y = moons(300)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": y})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    reference = fc.MLP([2, 8, 1], "tanh", "sigmoid", seed=3)
    options = dict(epochs=2, batch_size=16, shuffle=False, optimizer="adam", learning_rate=0.01)
    reference.copy().fit(X, y, **options)
    expected = reference.copy()
    expected.fit(X, y, **options)
    for name in ("d.csv", "d.parquet"):
        net = reference.copy()
        fit_stream(net, tmp_path / name, target="label", chunk_size=50, **options)
        for p, q in zip(net.parameters(), expected.parameters(), strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    # a feature subset, and evaluation of the same file
    net = fc.MLP([1, 4, 1], "tanh", "sigmoid", seed=0)
    fit_stream(net, tmp_path / "d.csv", target="label", columns=["b"], epochs=1)
    scores = evaluate_stream(net, tmp_path / "d.csv", target="label", columns=["b"])
    assert scores == pytest.approx(net.evaluate(X[:, 1:], y))


def test_regression_r2_over_a_stream_equals_the_in_memory_r2():
    X, y = fc.datasets.plane(400, seed=1)
    a = fc.MLP([2, 8, 1], "tanh", seed=0)
    b = a.copy()
    expected = a.fit(X, y, epochs=2, batch_size=25, shuffle=False)
    got = fit_stream(b, X, y, epochs=2, batch_size=25, shuffle=False, chunk_size=33)
    assert got.metric_name == "r2"
    np.testing.assert_allclose(got.metric, expected.metric, rtol=1e-12)
    assert evaluate_stream(b, X, y, chunk_size=51) == pytest.approx(b.evaluate(X, y), rel=1e-12)


def test_sample_weights_stream_like_fit():
    X, y = moons(300)
    weights = np.linspace(0.1, 2.0, len(X))
    a = fc.MLP([2, 6, 1], "tanh", "sigmoid", seed=1)
    b = a.copy()
    expected = a.fit(X, y, epochs=2, batch_size=20, shuffle=False, sample_weight=weights)
    got = fit_stream(
        b, X, y, sample_weight=weights, chunk_size=45, epochs=2, batch_size=20, shuffle=False
    )
    assert same_parameters(a, b)
    assert got.loss == expected.loss
    chunks = [(X[i : i + 45], y[i : i + 45], weights[i : i + 45]) for i in range(0, 300, 45)]
    c = fc.MLP([2, 6, 1], "tanh", "sigmoid", seed=1)
    fit_stream(c, chunks, epochs=2, batch_size=20, shuffle=False)
    assert same_parameters(a, c)


def test_softmax_labels_in_chunks_are_one_hot_encoded():
    X, y = fc.datasets.gaussians(300, seed=0)
    k = int(y.max()) + 1
    a = fc.MLP([2, 8, k], "relu", "softmax", seed=0)
    b = a.copy()
    a.fit(X, y, epochs=2, batch_size=16, shuffle=False)
    fit_stream(
        b,
        [(X[i : i + 64], y[i : i + 64]) for i in range(0, 300, 64)],
        epochs=2,
        batch_size=16,
        shuffle=False,
    )
    assert same_parameters(a, b)


# --------------------------------------------------------------------------- shuffling


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    chunk=st.integers(1, 80),
    batch=st.integers(1, 40),
    extra=st.integers(0, 100),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_row_is_used_exactly_once_per_epoch(n, chunk, batch, extra, seed):
    rows = np.arange(n, dtype=np.float64).reshape(-1, 1)
    buffer = streaming._ShuffleBuffer(batch + extra, batch, np.random.default_rng(seed))
    seen = []
    for start in range(0, n, chunk):
        part = rows[start : start + chunk]
        for xb, yb, _ in buffer.add(part, part * 10, None):
            assert xb.shape[0] <= batch
            np.testing.assert_array_equal(yb, xb * 10)  # features and targets stay paired
            seen.extend(xb[:, 0].tolist())
    for xb, _, _ in buffer.drain():
        seen.extend(xb[:, 0].tolist())
    assert sorted(seen) == list(range(n))


def test_shuffle_mixes_rows_across_chunks_and_changes_every_epoch():
    n = 1000
    rows = np.arange(n, dtype=np.float64).reshape(-1, 1)
    stream = open_stream(rows, rows, chunk_size=100)
    rng = np.random.default_rng(0)
    orders = []
    for _ in range(2):
        buffer = streaming._ShuffleBuffer(300, 10, rng)
        seen = []
        for X, y, w in stream.chunks(rng):
            for xb, _, _ in buffer.add(X, y, w):
                seen.extend(xb[:, 0].astype(int).tolist())
        seen.extend(x for xb, _, _ in buffer.drain() for x in xb[:, 0].astype(int).tolist())
        orders.append(seen)
        assert sorted(seen) == list(range(n))
        first_batch_chunks = {r // 100 for r in seen[:10]}
        assert len(first_batch_chunks) > 1  # a batch draws rows from several chunks
    assert orders[0] != orders[1]


def test_random_access_chunks_come_in_a_new_order_each_epoch(data_files):
    folder, X, _ = data_files
    stream = open_stream(folder / "X.npy", folder / "y.npy", chunk_size=64)
    rng = np.random.default_rng(5)
    firsts = [[float(c[0][0, 0]) for c in stream.chunks(rng)] for _ in range(2)]
    assert firsts[0] != firsts[1]
    assert sorted(firsts[0]) == sorted(float(X[i, 0]) for i in range(0, len(X), 64))


def test_shuffled_stream_learns_as_well_as_in_memory_training():
    X, y = moons(1000)
    X_test, y_test = moons(1000, seed=9)
    in_memory = fc.MLP([2, 16, 1], "tanh", "sigmoid", seed=1)
    streamed = in_memory.copy()
    options = dict(epochs=30, batch_size=32, optimizer="adam", learning_rate=0.01, seed=0)
    in_memory.fit(X, y, **options)
    fit_stream(streamed, X, y, chunk_size=100, buffer_size=200, **options)
    acc_memory = in_memory.evaluate(X_test, y_test)["accuracy"]
    acc_stream = streamed.evaluate(X_test, y_test)["accuracy"]
    assert acc_memory > 0.95 and acc_stream > 0.95
    assert abs(acc_memory - acc_stream) <= 0.02


# --------------------------------------------------------------------------- out of core

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import formicary as fc
    from formicary.streaming import fit_stream
    import formicary.serialization  # everything imported before the cap

    def status():
        fields = {}
        for line in open("/proc/self/status"):
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                fields[key] = int(value.split()[0]) * 1024
        return fields

    x_path, y_path, model_path, allowance = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    # OpenBLAS allocates its fixed work buffer at the first product: let it, before the cap
    for dtype in (np.float32, np.float64):
        np.ones((300, 300), dtype) @ np.ones((300, 300), dtype)
    before = status()
    cap = before["VmSize"] + allowance
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        np.load(x_path)
        whole_file_loads = True
    except MemoryError:
        whole_file_loads = False
    net = fc.MLP([32, 16, 1], "tanh", "sigmoid", seed=1, dtype="float32")
    history = fit_stream(net, x_path, y_path, epochs=1, batch_size=256, optimizer="adam",
                         learning_rate=0.005, seed=2, chunk_size=16384, buffer_size=65536)
    net.save(model_path)
    after = status()
    print(json.dumps({"cap": cap, "baseline_vm": before["VmSize"], "baseline_rss": before["VmRSS"],
                      "peak_vm": after["VmPeak"], "peak_rss": after["VmHWM"],
                      "whole_file_loads": whole_file_loads, "train_accuracy": history.metric[-1]}))
    """
)


def labels(X):
    return ((X[:, 0] * X[:, 1] + 0.5 * X[:, 2] - 0.3 * X[:, 3]) > 0).astype(np.float32)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses RLIMIT_AS and /proc")
def test_trains_on_a_file_many_times_larger_than_its_memory_cap(tmp_path):
    """The child may grow 40 MiB beyond its size after imports; the data file is 256 MB."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2_000_000, 32), dtype=np.float32)
    y = labels(X)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    X_test = rng.standard_normal((20_000, 32), dtype=np.float32)
    y_test = labels(X_test)
    allowance = 40 * 2**20
    file_bytes = (tmp_path / "X.npy").stat().st_size
    assert file_bytes > 6 * allowance

    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(tmp_path / "X.npy"),
            str(tmp_path / "y.npy"),
            str(tmp_path / "streamed.fcy"),
            str(allowance),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # the cap is real: the data set itself does not fit under it
    assert not report["whole_file_loads"]
    assert report["peak_vm"] <= report["cap"]
    assert file_bytes > report["cap"] - report["baseline_vm"]
    print(
        f"\nout-of-core: file {file_bytes / 2**20:.0f} MiB, address-space cap "
        f"{report['cap'] / 2**20:.0f} MiB (baseline {report['baseline_vm'] / 2**20:.0f} MiB "
        f"+ {allowance / 2**20:.0f} MiB), peak VM {report['peak_vm'] / 2**20:.0f} MiB, "
        f"peak RSS {report['peak_rss'] / 2**20:.0f} MiB "
        f"(baseline RSS {report['baseline_rss'] / 2**20:.0f} MiB)"
    )

    in_memory = fc.MLP([32, 16, 1], "tanh", "sigmoid", seed=1, dtype="float32")
    in_memory.fit(X, y, epochs=1, batch_size=256, optimizer="adam", learning_rate=0.005, seed=2)
    streamed = fc.load(tmp_path / "streamed.fcy")
    acc_memory = in_memory.evaluate(X_test, y_test)["accuracy"]
    acc_stream = streamed.evaluate(X_test, y_test)["accuracy"]
    print(f"accuracy in memory {acc_memory:.4f}, streamed {acc_stream:.4f}")
    assert acc_memory > 0.95
    assert abs(acc_memory - acc_stream) <= 0.01


# --------------------------------------------------------------------------- evaluation and helpers


def test_evaluate_predict_and_statistics_over_streams(data_files):
    folder, X, y = data_files
    net = fc.MLP([2, 5, 1], "tanh", "sigmoid", seed=0)
    assert evaluate_stream(net, folder / "X.npy", folder / "y.npy", chunk_size=64) == (
        pytest.approx(net.evaluate(X, y), rel=1e-12)
    )
    parts = list(predict_stream(net, folder / "X.npy", chunk_size=64))
    assert len(parts) == 8
    np.testing.assert_allclose(np.concatenate(parts), net.predict(X), rtol=1e-14)
    mean, scale = feature_statistics(folder / "X.npy", chunk_size=37)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scale, X.std(axis=0), rtol=1e-12)


def test_transform_standardises_each_chunk_and_validation_is_streamed():
    X, y = moons(600)
    X = X * 100 + 50
    mean, scale = feature_statistics(X, chunk_size=100)
    standardise = lambda X, y: ((X - mean) / scale, y)  # noqa: E731
    net = fc.MLP([2, 16, 1], "tanh", "sigmoid", seed=0)
    X_val, y_val = moons(300, seed=4)
    X_val = X_val * 100 + 50
    history = fit_stream(
        net,
        X,
        y,
        transform=standardise,
        epochs=20,
        batch_size=32,
        optimizer="adam",
        learning_rate=0.01,
        seed=0,
        validation_data=(X_val, y_val),
        early_stopping=True,
    )
    assert len(history.val_loss) == len(history.loss)
    final = net.evaluate((X_val - mean) / scale, y_val)
    assert history.val_metric[-1] == pytest.approx(final["accuracy"]) or history.stopped_early
    assert final["accuracy"] > 0.9


def test_float32_chunks_train_a_float32_network_and_integers_keep_the_net_dtype():
    X, y = moons(200)
    net = fc.MLP([2, 4, 1], "tanh", "sigmoid", seed=0)
    fit_stream(net, X.astype(np.float32), y, epochs=1)
    assert net.dtype == np.float32 and all(p.dtype == np.float32 for p in net.parameters())
    net = fc.MLP([2, 4, 1], "tanh", "sigmoid", seed=0)
    fit_stream(net, [(np.round(X * 10).astype(np.int64), y)], epochs=1)
    assert net.dtype == np.float64


def test_callbacks_see_every_batch_and_can_stop_training():
    X, y = moons(200)
    seen = []

    class Stop(fc.Callback):
        def on_batch_end(self, net, batch, logs):
            seen.append(logs["size"])
            if batch == 2:
                net.stop_training = True

    history = fit_stream(
        fc.MLP([2, 4, 1], seed=0), X, y, epochs=5, batch_size=10, callbacks=[Stop()]
    )
    assert seen == [10, 10, 10] and len(history.loss) == 1


def test_is_stream_tells_streams_from_in_memory_data(tmp_path):
    X, _ = moons(10)
    assert is_stream("data.csv") and is_stream(tmp_path / "X.npy")
    assert is_stream(lambda: iter([])) and is_stream(iter([]))
    mm = np.lib.format.open_memmap(tmp_path / "m.npy", mode="w+", dtype=np.float64, shape=(3, 2))
    assert is_stream(mm)
    assert not is_stream(X) and not is_stream(X.tolist()) and not is_stream(X, X[:, 0])


FIT_DISPATCHES = "streaming" in inspect.getsource(fc.MLP.fit)


@pytest.mark.skipif(not FIT_DISPATCHES, reason="MLP.fit does not dispatch streams yet")
def test_net_fit_streams_paths_memmaps_and_chunk_factories(data_files):
    folder, X, y = data_files
    reference = fc.MLP([2, 8, 1], "tanh", "sigmoid", seed=3)
    options = dict(epochs=2, batch_size=32, shuffle=False)
    expected = reference.copy()
    expected.fit(X, y, **options)
    for data, targets in (
        (folder / "X.npy", folder / "y.npy"),
        (np.load(folder / "X.npy", mmap_mode="r"), y),
        (lambda: iter([(X[:200], y[:200]), (X[200:], y[200:])]), None),
    ):
        net = reference.copy()
        net.fit(data, targets, **options)
        assert same_parameters(net, expected)


# --------------------------------------------------------------------------- bad input


def test_chunks_of_inconsistent_width_or_dtype_are_refused():
    X, y = moons(200)
    net = fc.MLP([2, 4, 1], seed=0)
    with pytest.raises(ValueError, match=r"chunk 2 .* 1 column\(s\) but the earlier chunks had 2"):
        fit_stream(net, [(X[:100], y[:100]), (X[100:, :1], y[100:])], epochs=1)
    with pytest.raises(ValueError, match=r"chunk 1 .* 3 column\(s\) but the network takes 2"):
        fit_stream(net, [(np.ones((5, 3)), np.ones(5))], epochs=1)
    with pytest.raises(
        TypeError, match="chunk 2 .* float32 values but the first chunk held float64"
    ):
        fit_stream(net, [(X[:100], y[:100]), (X[100:].astype(np.float32), y[100:])], epochs=1)
    bad = X.copy()
    bad[150, 1] = np.nan
    with pytest.raises(ValueError, match=r"chunk 2 .*NaN.* row 50"):
        fit_stream(net, [(bad[:100], y[:100]), (bad[100:], y[100:])], epochs=1)
    with pytest.raises(ValueError, match="chunk 1 .* 90 samples but y has 100"):
        fit_stream(net, [(X[:90], y[:100])], epochs=1)
    with pytest.raises(ValueError, match=r"chunk 1 .* has no targets"):
        fit_stream(net, [np.ones((3, 2))], epochs=1)
    with pytest.raises(TypeError, match=r"chunk 1 is a str"):
        fit_stream(net, ["X.csv"], epochs=1)


def test_bad_stream_options_are_explained(tmp_path):
    X, y = moons(100)
    net = fc.MLP([2, 4, 1], seed=0)
    generator = ((X[i : i + 10], y[i : i + 10]) for i in range(0, 100, 10))
    with pytest.raises(ValueError, match="generator can be read only once"):
        fit_stream(net, generator, epochs=2)
    with pytest.raises(ValueError, match=r"buffer_size \(8\) must be at least batch_size \(16\)"):
        fit_stream(net, X, y, batch_size=16, buffer_size=8)
    with pytest.raises(ValueError, match="validation_split needs the whole data set"):
        fit_stream(net, X, y, validation_split=0.2)
    with pytest.raises(ValueError, match="batch_size=None"):
        fit_stream(net, X, y, batch_size=None)
    with pytest.raises(ValueError, match="no targets: pass y"):
        fit_stream(net, X)
    with pytest.raises(ValueError, match="give a .npy file"):
        fit_stream(net, tmp_path / "data.xlsx")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fit_stream(net, tmp_path / "missing.npy", y)
    with pytest.raises(ValueError, match="X has 100 rows but y has 99"):
        fit_stream(net, X, y[:99])
    with pytest.raises(ValueError, match="yielded no rows"):
        fit_stream(net, lambda: iter([]), epochs=1)
    np.save(tmp_path / "F.npy", np.asfortranarray(X))
    with pytest.raises(ValueError, match="Fortran-ordered"):
        fit_stream(net, tmp_path / "F.npy", y)
    np.save(tmp_path / "T.npy", X)
    (tmp_path / "T.npy").write_bytes((tmp_path / "T.npy").read_bytes()[:-40])
    with pytest.raises(ValueError, match="is truncated"):
        fit_stream(net, tmp_path / "T.npy", y)


def test_bad_tables_are_explained(tmp_path):
    pd = pytest.importorskip("pandas")
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n3,x,1\n")
    net = fc.MLP([2, 4, 1], seed=0)
    with pytest.raises(ValueError, match="name its target column with target="):
        fit_stream(net, tmp_path / "d.csv")
    with pytest.raises(ValueError, match="has no column.*'lbl'.*'label'"):
        fit_stream(net, tmp_path / "d.csv", target="lbl")
    with pytest.raises(TypeError, match="chunk 1 .*non-numeric"):
        fit_stream(net, tmp_path / "d.csv", target="label", epochs=1)
    assert pd is not None


def test_divergence_is_reported_and_the_epoch_rolled_back():
    X, y = fc.datasets.plane(200, seed=0)
    net = fc.MLP([2, 8, 1], "relu", seed=0)
    before = net.get_parameters()
    with np.errstate(all="ignore"), pytest.raises(fc.TrainingDivergedError, match="Lower the"):
        fit_stream(net, X * 1e6, y * 1e6, learning_rate=10.0, epochs=1, batch_size=10)
    assert all(np.array_equal(p, q) for p, q in zip(before, net.parameters(), strict=True))
