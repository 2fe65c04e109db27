"""Model files (round trip, atomicity, bad files) and float32/float64 end to end."""

import json
import os
import zipfile

import numpy as np
import pytest

import formicary as fc
from formicary import serialization


@pytest.fixture
def trained(tmp_path):
    X, y = fc.datasets.moons(100, seed=0)
    net = fc.MLP([2, 5, 3, 1], activation=["relu", "tanh"], output_activation="sigmoid", seed=0)
    net.fit(X, y, optimizer="adam", epochs=5, seed=0)
    return net, X


def test_round_trip_gives_identical_predictions(trained, tmp_path):
    net, X = trained
    path = tmp_path / "moons.fcy"
    net.save(path, extra={"classes": ["a", "b"]})
    loaded = fc.load(path)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert [a.name for a in loaded.activations] == ["relu", "tanh", "sigmoid"]
    assert loaded.metadata == {"classes": ["a", "b"]}
    assert loaded.history.loss == net.history.loss
    assert loaded.dtype == np.float64


def test_leaky_relu_slope_and_float32_survive_the_round_trip(tmp_path):
    net = fc.MLP([3, 4, 2], activation=fc.activations.leaky_relu(0.3), dtype="float32", seed=0)
    fc.save(net, tmp_path / "m.npz")
    loaded = fc.load(tmp_path / "m.npz")
    assert loaded.dtype == np.float32
    assert loaded.layers[0].activation.params == {"slope": 0.3}
    X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


def test_files_are_plain_npz_without_pickle(trained, tmp_path):
    net, _ = trained
    path = tmp_path / "m.fcy"
    net.save(path)
    with np.load(path, allow_pickle=False) as archive:  # would raise if anything needed pickle
        meta = json.loads(archive["metadata"].tobytes())
        assert archive["weights_1"].shape == (5, 2)
    assert meta["format"] == "formicary"
    assert meta["format_version"] == serialization.FORMAT_VERSION
    assert meta["layers"][0]["activation"] == {"name": "relu", "params": {}}


def test_save_is_atomic(trained, tmp_path, monkeypatch):
    net, _ = trained
    path = tmp_path / "m.fcy"
    net.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == before  # the old model is intact
    assert sorted(os.listdir(tmp_path)) == ["m.fcy"]  # and no temporary file is left


def _rewrite(path, target, arrays):
    with open(target, "wb") as stream:
        np.savez(stream, **arrays)


def test_each_kind_of_bad_file_gets_its_own_clear_error(trained, tmp_path):
    net, _ = trained
    good = tmp_path / "good.fcy"
    net.save(good)
    with np.load(good) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays["metadata"].tobytes())

    def with_meta(**changes):
        return np.frombuffer(json.dumps({**meta, **changes}).encode(), dtype=np.uint8)

    with pytest.raises(FileNotFoundError, match="does not exist"):
        fc.load(tmp_path / "missing.fcy")

    empty = tmp_path / "empty.fcy"
    empty.write_bytes(b"")
    with pytest.raises(fc.ModelFileError, match="empty"):
        fc.load(empty)

    truncated = tmp_path / "truncated.fcy"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(fc.ModelFileError, match="truncated"):
        fc.load(truncated)

    text = tmp_path / "notes.fcy"
    text.write_text("hello, I am a CSV,1,2\n")
    with pytest.raises(fc.ModelFileError, match="not a Formicary model"):
        fc.load(text)

    foreign = tmp_path / "foreign.npz"
    _rewrite(good, foreign, {"x": np.arange(3)})
    with pytest.raises(fc.ModelFileError, match="no metadata"):
        fc.load(foreign)

    other = tmp_path / "other.npz"
    _rewrite(good, other, {**arrays, "metadata": with_meta(format="keras")})
    with pytest.raises(fc.ModelFileError, match="another format"):
        fc.load(other)

    newer = tmp_path / "newer.fcy"
    _rewrite(good, newer, {**arrays, "metadata": with_meta(format_version=99)})
    with pytest.raises(fc.ModelFileError, match="newer.*upgrade"):
        fc.load(newer)

    garbled = tmp_path / "garbled.fcy"
    _rewrite(good, garbled, {**arrays, "metadata": np.frombuffer(b"{not json", dtype=np.uint8)})
    with pytest.raises(fc.ModelFileError, match="corrupted metadata"):
        fc.load(garbled)

    wrong_shape = tmp_path / "shape.fcy"
    _rewrite(good, wrong_shape, {**arrays, "weights_1": np.zeros((4, 2))})
    with pytest.raises(fc.ModelFileError, match="layer 1"):
        fc.load(wrong_shape)

    missing_layer = tmp_path / "missing_layer.fcy"
    _rewrite(good, missing_layer, {k: v for k, v in arrays.items() if k != "bias_2"})
    with pytest.raises(fc.ModelFileError, match="layer 2 is incomplete"):
        fc.load(missing_layer)

    nan = tmp_path / "nan.fcy"
    _rewrite(good, nan, {**arrays, "bias_1": np.full(5, np.nan)})
    with pytest.raises(fc.ModelFileError, match="NaN"):
        fc.load(nan)

    # a damaged byte inside the archive
    damaged = tmp_path / "damaged.fcy"
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        info = archive.getinfo("weights_1.npy")
    data[info.header_offset + 40 : info.header_offset + 60] = b"\xff" * 20
    damaged.write_bytes(bytes(data))
    with pytest.raises(fc.ModelFileError):
        fc.load(damaged)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_forward_backward_and_training(dtype):
    X, y = fc.datasets.moons(64, seed=0)
    X, y = X.astype(dtype), y.astype(dtype)
    net = fc.MLP([2, 6, 1], activation="relu", output_activation="sigmoid", seed=0)
    trace = net.forward(X, trace=True)
    assert all(z.dtype == dtype for z in trace.z) and all(a.dtype == dtype for a in trace.a)
    grads = net.backward(trace, y, loss="binary_cross_entropy")
    assert all(g.dtype == dtype for g in grads.flat() + grads.delta)
    net.fit(X, y, optimizer="adam", epochs=3, seed=0)
    assert net.dtype == dtype
    assert all(p.dtype == dtype for p in net.parameters())
    assert net.predict(X).dtype == dtype
    assert net.forward(X).dtype == dtype


def test_float64_input_to_a_float32_network_is_not_silently_downcast():
    net = fc.MLP([2, 3, 1], dtype="float32", seed=0)
    X = np.random.default_rng(0).normal(size=(5, 2))
    assert net.predict(X).dtype == np.float64
    assert net.predict(X.astype(np.float32)).dtype == np.float32
    assert net.dtype == np.float32


def test_float32_training_matches_float64_closely():
    X, y = fc.datasets.moons(100, seed=0)
    results = []
    for dtype in (np.float32, np.float64):
        net = fc.MLP([2, 8, 1], activation="tanh", output_activation="sigmoid", seed=0)
        net.fit(X.astype(dtype), y, optimizer="adam", epochs=5, seed=0)
        results.append(net.predict(X.astype(dtype)).astype(np.float64))
    np.testing.assert_allclose(results[0], results[1], atol=1e-4)


def test_bad_dtype_is_refused():
    with pytest.raises(TypeError, match="float32"):
        fc.MLP([2, 1], dtype="int32")
    with pytest.raises(TypeError, match="float32"):
        fc.MLP([2, 1], dtype="float16")
