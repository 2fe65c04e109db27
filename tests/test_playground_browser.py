"""End to end: ``formicary playground`` in a real headless Chromium, driven by Playwright.

The server runs as the real command in a subprocess; the browser is Debian's
``/usr/bin/chromium`` with a fresh profile. Numbers read from the page are compared
with the engine's own computation on the model file the page downloads.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

import formicary as fc

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )

from playwright import sync_api  # noqa: E402  (the test extra installs it; no browser download)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A configuration that learns XOR within a few seconds.
FAST_XOR = "#data=xor&points=300&layers=4,4&act=tanh,tanh&opt=adam&lr=0.03&batch=10"


@pytest.fixture(scope="module")
def server():
    process = subprocess.Popen(
        [sys.executable, "-m", "formicary", "playground", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not match:
        process.kill()
        raise AssertionError(f"formicary playground printed {line!r}: {process.stderr.read()}")
    yield match.group(0)
    process.terminate()
    process.wait(timeout=10)
    assert process.returncode in (0, -15)  # stopped by us, not crashed


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1050},
            accept_downloads=True,
        )
        yield context
        context.close()


def watched(browser, server: str):
    """A new tab whose console errors, page errors and outside requests land in ``.problems``."""
    page = browser.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def local_only(request):
        if not request.url.startswith((server, server.replace("http", "ws"), "data:", "blob:")):
            problems.append(f"request to {request.url}")

    page.on("request", local_only)
    page.problems = problems
    return page


@pytest.fixture
def page(browser, server):
    page = watched(browser, server)
    yield page
    page.close()


def open_playground(page, server: str, fragment: str = "") -> None:
    page.goto(server + fragment)
    page.wait_for_function("() => window.formicaryPlayground?.stats.frames > 0")


def number(text: str) -> float:
    return float(text.replace("−", "-").replace("%", "").replace(",", "").strip())


def frame_value(page, key: str):
    return page.evaluate(f"() => window.formicaryPlayground.frame.{key}")


def pause(page) -> None:
    page.click("#play")
    page.wait_for_function("() => window.formicaryPlayground.frame.playing === false")


def roles(page, role: str) -> list[float]:
    return [number(t) for t in page.locator(f'#equations [data-role="{role}"]').all_inner_texts()]


def upload(page, name: str, text: str) -> None:
    page.set_input_files(
        "#csv-file", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}]
    )


ANIMALS = ("ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen")


def blobs(
    classes: int, per_class: int, digits: int = 3, seed: int = 0, names: tuple = ANIMALS
) -> str:
    """A CSV of Gaussian blobs on a circle, one per class, labelled by ``names``."""
    rng = np.random.default_rng(seed)
    angle = 2 * np.pi * np.arange(classes) / classes
    rows = ["x1,x2,animal"]
    for i in range(classes * per_class):
        k = i % classes
        x = 2 * np.array([np.cos(angle[k]), np.sin(angle[k])]) + rng.normal(0, 0.5, 2)
        rows.append(f"{x[0]:.{digits}f},{x[1]:.{digits}f},{names[k]}")
    return "\n".join(rows) + "\n"


def fragment(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).fragment).items()}


def download_model(page, tmp_path: Path) -> fc.MLP:
    with page.expect_download() as info:
        page.click("#download")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".fcy"
    return fc.load(path)


# ----------------------------------------------------------------------------- tests


def test_page_loads_without_console_errors(page, server):
    open_playground(page, server)
    assert page.title() == "Formicary playground"
    assert page.locator(".node").count() == 2 + 4 + 4 + 1  # the default 2-4-4-1 network
    assert page.inner_text("#epoch") == "000,000"
    assert page.locator("#message").is_hidden()
    assert page.problems == []


def test_pressing_play_makes_the_displayed_loss_fall(page, server, tmp_path, capsys):
    open_playground(page, server, FAST_XOR)
    first = number(page.inner_text("#train-loss"))
    page.evaluate(
        "() => { const s = window.formicaryPlayground.stats; s.frames = 0; s.firstAt = null; }"
    )
    page.click("#play")
    page.wait_for_function("() => window.formicaryPlayground.frame.epoch >= 60", timeout=20000)
    page.screenshot(path=tmp_path / "training.png")
    stats = page.evaluate("() => window.formicaryPlayground.stats")
    pause(page)
    later = number(page.inner_text("#train-loss"))
    assert later < first
    epoch = number(page.inner_text("#epoch"))
    time.sleep(0.3)
    assert number(page.inner_text("#epoch")) == epoch  # paused: training stopped
    assert len(page.evaluate("() => window.formicaryPlayground.history")) > 10  # the loss curve
    assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fps = (stats["frames"] - 1) / ((stats["lastAt"] - stats["firstAt"]) / 1000)
    with capsys.disabled():
        print(f"\n[playground browser] {fps:.1f} frames drawn per second while training")
    assert page.problems == []


def test_identity_switch_turns_xor_accuracy_to_at_most_75_percent(page, server, tmp_path):
    open_playground(page, server, FAST_XOR)
    page.click("#play")
    page.wait_for_function(
        "() => window.formicaryPlayground.frame.test_metric >= 0.93", timeout=30000
    )
    assert number(page.inner_text("#test-metric")) >= 90
    page.click("label.switch")  # the identity switch
    page.wait_for_function("() => window.formicaryPlayground.config.identity === true")
    switched_at = frame_value(page, "epoch")
    page.wait_for_function(
        f"() => window.formicaryPlayground.frame.epoch >= {switched_at + 40}", timeout=20000
    )
    pause(page)
    assert number(page.inner_text("#test-metric")) <= 75
    assert number(page.inner_text("#train-metric")) <= 75
    assert "#" in page.url and "identity=1" in page.url
    collapse = page.locator("#collapse")
    assert collapse.is_visible() and "straight line" in collapse.inner_text()
    # the stated single-layer equation is the product of the engine's weight matrices
    net = download_model(page, tmp_path)
    W = net.layers[2].weights @ net.layers[1].weights @ net.layers[0].weights
    b = net.layers[2].weights @ (net.layers[1].weights @ net.layers[0].bias + net.layers[1].bias)
    b = b + net.layers[2].bias
    shown_w = [number(t) for t in collapse.locator('[data-role="collapse-w"]').all_inner_texts()]
    shown_b = number(collapse.locator('[data-role="collapse-b"]').inner_text())
    assert shown_w == pytest.approx(W[0].tolist(), abs=1e-4)
    assert shown_b == pytest.approx(float(b[0]), abs=1e-4)
    page.screenshot(path=tmp_path / "identity.png")
    assert page.problems == []


def test_clicking_a_neuron_shows_its_equation_with_the_engines_numbers(page, server, tmp_path):
    open_playground(page, server, "#data=xor&layers=4,3&act=tanh,sigmoid&opt=sgd&lr=0.3")
    for _ in range(3):
        page.click("#step")
    page.wait_for_function("() => window.formicaryPlayground.frame.steps === 3")
    page.click('.node[data-layer="2"][data-neuron="2"]')
    page.wait_for_selector('#equations [data-role="z"]')
    first_point = frame_value(page, "neuron.point")
    box = page.locator("#boundary").bounding_box()  # click the output map: a new point x
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6)
    page.wait_for_function(
        f"() => window.formicaryPlayground.frame.neuron.point[0] !== {first_point[0]}"
    )
    text = page.inner_text("#equations")
    assert "Neuron j = 2 of layer l = 2" in text and "sigmoid" in text
    x = np.array(roles(page, "x"))
    weights, inputs = roles(page, "w"), roles(page, "input")
    bias, z, a = roles(page, "bias")[0], roles(page, "z")[0], roles(page, "a")[0]
    net = download_model(page, tmp_path)
    # the engine on the same weights and the same point
    trace = net.forward(x[None, :], trace=True)
    assert weights == pytest.approx(net.layers[1].weights[1].tolist(), abs=1e-4)
    assert bias == pytest.approx(float(net.layers[1].bias[1]), abs=1e-4)
    assert inputs == pytest.approx(trace.a[0][0].tolist(), abs=5e-4)  # a^(1) at x
    assert z == pytest.approx(float(trace.z[1][0, 1]), abs=5e-4)
    assert a == pytest.approx(float(trace.a[1][0, 1]), abs=5e-4)
    assert a == pytest.approx(1 / (1 + np.exp(-z)), abs=2e-4)  # sigma(z), by hand
    # the last update: w = w - eta de/dw, and "after" is the weight now in the model
    before, gradient = roles(page, "w-before"), roles(page, "w-grad")
    after = roles(page, "w-after")
    assert after == pytest.approx(net.layers[1].weights[1].tolist(), abs=1e-4)
    expected = [w - 0.3 * g for w, g in zip(before, gradient, strict=True)]
    assert after == pytest.approx(expected, abs=2e-4)
    assert "step 3" in text
    assert page.problems == []


def test_bad_input_shows_a_message_and_the_server_keeps_running(page, server):
    open_playground(page, server)
    message = page.locator("#message")
    page.set_input_files(
        "#csv-file",
        files=[
            {"name": "bad.csv", "mimeType": "text/csv", "buffer": b"x1,x2,y\n1,2,0\n3,oops,1\n"}
        ],
    )
    message.wait_for(state="visible")
    assert "bad.csv line 3: 'oops' in column 2 is not a number" in message.inner_text()
    page.evaluate("() => { location.hash = 'layers=100'; }")
    page.wait_for_function(
        "() => document.querySelector('#message-text').textContent.includes('64')"
    )
    assert "1 to 64 neurons" in message.inner_text()
    assert page.locator(".node").count() == 11  # the network is unchanged
    page.evaluate("() => { location.hash = 'data=plane&layers=3&lr=10'; }")
    page.wait_for_function("() => window.formicaryPlayground.setup.task === 'regression'")
    page.click("#play")
    page.wait_for_function(
        "() => document.querySelector('#message-text').textContent.includes('diverged')"
    )
    assert "lower the learning rate" in message.inner_text()
    page.wait_for_function("() => !document.body.classList.contains('playing')")
    # the same page and server carry on with a sensible learning rate
    page.fill("#learning_rate", "0.01")
    page.press("#learning_rate", "Enter")
    page.wait_for_function("() => window.formicaryPlayground.config.learning_rate === 0.01")
    steps = frame_value(page, "steps")
    page.click("#step")
    page.wait_for_function(f"() => window.formicaryPlayground.frame.steps === {steps + 1}")
    assert message.is_hidden()
    assert page.problems == []


def test_a_csv_upload_becomes_the_data_set(page, server):
    open_playground(page, server)
    rng = np.random.default_rng(3)
    rows = "\n".join(
        f"{a:.3f},{b:.3f},{'in' if a * a + b * b < 0.5 else 'out'}"
        for a, b in rng.uniform(-1, 1, (80, 2))
    )
    page.set_input_files(
        "#csv-file",
        files=[
            {"name": "ring.csv", "mimeType": "text/csv", "buffer": ("x,y,where\n" + rows).encode()}
        ],
    )
    page.wait_for_function(
        "() => document.querySelector('#colour-legend').textContent.includes('class out')"
    )
    assert page.locator('.chip[data-dataset="csv"]').inner_text() == "CSV: ring.csv"
    assert "P(class out" in page.inner_text("#colour-legend")
    assert page.problems == []


def test_the_url_carries_the_configuration(page, browser, server):
    open_playground(page, server)
    page.click('.chip[data-dataset="circles"]')
    page.wait_for_function("() => window.formicaryPlayground.setup.dataset === 'circles'")
    page.click("#add-layer")
    page.wait_for_function("() => window.formicaryPlayground.setup.sizes.length === 5")
    page.select_option('.layer-control select[data-layer="3"]', "relu")
    page.wait_for_function("() => window.formicaryPlayground.config.activations[2] === 'relu'")
    url = page.url
    assert "data=circles" in url and "layers=4,4,4" in url and "act=tanh,tanh,relu" in url
    other = browser.new_page()
    try:
        open_playground(other, url.split("#")[0], "#" + url.split("#")[1])
        setup = other.evaluate("() => window.formicaryPlayground.setup")
        assert setup["dataset"] == "circles" and setup["sizes"] == [2, 4, 4, 4, 1]
        assert other.input_value('.layer-control select[data-layer="3"]') == "relu"
    finally:
        other.close()


def test_two_tabs_train_independently(page, browser, server):
    open_playground(page, server, FAST_XOR)
    page.click("#play")
    second = browser.new_page()  # now in front: the first tab trains in the background
    try:
        open_playground(second, server, FAST_XOR)
        page.wait_for_function(
            "() => window.formicaryPlayground.latest.epoch >= 20", polling=50, timeout=20000
        )
        assert second.evaluate("() => window.formicaryPlayground.frame.epoch") == 0
        second.click("#step")
        second.wait_for_function("() => window.formicaryPlayground.frame.steps === 1")
        page.bring_to_front()
        pause(page)
        assert page.evaluate("() => window.formicaryPlayground.frame.steps") > 20 * 15
        assert second.evaluate("() => window.formicaryPlayground.latest.steps") == 1
    finally:
        second.close()


def test_a_three_class_csv_trains_and_its_link_restores_the_data(page, browser, server, tmp_path):
    open_playground(page, server, "#layers=6&act=tanh&opt=adam&lr=0.03&batch=10")
    text = blobs(3, per_class=50)
    upload(page, "animals.csv", text)
    page.wait_for_function(
        "() => document.querySelectorAll('#colour-legend .class-entry').length === 3"
    )
    legend = page.locator("#colour-legend .class-entry")
    assert legend.all_inner_texts() == ["ant", "bee", "cat"]
    assert page.locator(".class-label .class-name").all_inner_texts() == ["ant", "bee", "cat"]
    assert "3 classes: ant, bee, cat" in page.inner_text("#message")
    first = number(page.inner_text("#train-loss"))
    page.click("#play")
    page.wait_for_function("() => window.formicaryPlayground.frame.epoch >= 15", timeout=20000)
    pause(page)
    assert number(page.inner_text("#train-loss")) < first / 2
    assert number(page.inner_text("#test-metric")) > 80
    assert len(page.evaluate("() => window.formicaryPlayground.history")) > 3  # the loss curve
    # the softmax output neuron's equation with the engine's numbers
    page.click('.node[data-layer="2"][data-neuron="2"]')
    page.wait_for_selector('#equations [data-role="softmax-z"]')
    x = np.array(roles(page, "x"))
    shown_z, a = roles(page, "softmax-z"), roles(page, "a")[0]
    net = download_model(page, tmp_path)
    z = net.forward(x[None, :], trace=True).z[1][0]
    assert shown_z == pytest.approx(z.tolist(), abs=5e-4)
    assert a == pytest.approx(float(np.exp(z[1]) / np.exp(z).sum()), abs=5e-4)
    assert "P(class bee | x)" in page.inner_text("#equations")
    # the downloaded model predicts the page's decision regions and its accuracy
    assert net.metadata["class_names"] == ["ant", "bee", "cat"]
    setup = page.evaluate("() => window.formicaryPlayground.setup")
    output = frame_value(page, "output")
    winner = np.frombuffer(base64.b64decode(output["winner"]), dtype=np.uint8)
    x0, x1, y0, y1 = setup["domain"]
    cells = (np.arange(output["resolution"]) + 0.5) / output["resolution"]
    grid = np.array([[x0 + c * (x1 - x0), y1 - r * (y1 - y0)] for r in cells for c in cells])
    assert np.array_equal(net.classify(grid), winner)
    correct = net.classify(np.array(setup["test"]["x"])) == np.array(setup["test"]["y"])
    assert np.mean(correct) * 100 == pytest.approx(number(page.inner_text("#test-metric")), abs=1)
    # the link holds the file, raw DEFLATE in base64url: decoded here independently
    page.wait_for_function("() => location.hash.includes('csv=')")
    params = fragment(page.url)
    data = base64.urlsafe_b64decode(params["csv"] + "=" * (-len(params["csv"]) % 4))
    assert zlib.decompress(data, wbits=-15).decode() == text
    assert params["file"] == "animals.csv" and params["data"] == "csv"
    other = watched(browser, server)
    try:
        open_playground(other, page.url.split("#")[0], "#" + page.url.split("#")[1])
        other.wait_for_function("() => window.formicaryPlayground.setup.sizes.at(-1) === 3")
        shared = other.evaluate("() => window.formicaryPlayground.setup")
        assert shared["custom"] == "animals.csv" and shared["class_names"] == ["ant", "bee", "cat"]
        assert shared["train"] == setup["train"] and shared["test"] == setup["test"]
        assert shared["sizes"] == [2, 6, 3] and shared["config"] == setup["config"]
        assert other.problems == []
    finally:
        other.close()
    assert page.problems == []


def test_a_link_shares_a_csv_only_when_it_fits(page, browser, server):
    # data made here with Python's zlib (raw DEFLATE) opens in the page: 4 classes, one
    # named like markup, which the page must show as text
    text = blobs(4, per_class=10, seed=1, names=("ant", "bee", "cat", "<img src=x>"))
    packed = zlib.compressobj(9, zlib.DEFLATED, -15)
    encoded = base64.urlsafe_b64encode(packed.compress(text.encode()) + packed.flush())
    open_playground(page, server, f"#data=csv&layers=3&file=four.csv&csv={encoded.decode()}")
    page.wait_for_function("() => window.formicaryPlayground.setup.custom === 'four.csv'")
    setup = page.evaluate("() => window.formicaryPlayground.setup")
    assert setup["class_names"] == ["<img src=x>", "ant", "bee", "cat"]
    assert setup["sizes"] == [2, 3, 4]
    page.wait_for_function("() => document.querySelectorAll('.class-entry').length === 4")
    assert "<img src=x>" in page.inner_text("#colour-legend")
    assert page.locator("#colour-legend img, #nodes img").count() == 0
    assert len(setup["train"]["x"]) + len(setup["test"]["x"]) == 40
    # 5,000 rows of 8-digit numbers do not fit in a link: the user is told, settings still go
    upload(page, "big.csv", blobs(2, per_class=2500, digits=8))
    page.wait_for_function("() => window.formicaryPlayground.setup.custom === 'big.csv'")
    page.click("#copy-link")
    message = page.locator("#message")
    page.wait_for_function(
        "() => document.querySelector('#message-text').textContent.includes('too large')"
    )
    assert "big.csv is too large to share by link" in message.inner_text()
    params = fragment(page.url)
    assert params["file"] == "big.csv" and "csv" not in params and params["layers"] == "3"
    assert len(page.url) < 1000
    other = watched(browser, server)
    try:
        # whoever opens it gets the settings and is asked for the file
        open_playground(other, page.url.split("#")[0], "#" + page.url.split("#")[1])
        other.wait_for_function(
            "() => document.querySelector('#message-text').textContent.includes('big.csv')"
        )
        assert "choose it with Upload CSV" in other.inner_text("#message")
        assert other.evaluate("() => window.formicaryPlayground.setup.sizes") == [2, 3, 1]
        # a damaged link: one message, the other settings still apply
        other.evaluate("() => { location.hash = 'data=csv&layers=5&file=cut.csv&csv=q1w2e3'; }")
        other.wait_for_function(
            "() => document.querySelector('#message-text').textContent.includes('cut.csv')"
        )
        assert "cannot be read" in other.inner_text("#message")
        other.wait_for_function("() => window.formicaryPlayground.setup.sizes[1] === 5")
        assert other.problems == []
    finally:
        other.close()
    assert page.problems == []
