"""End to end: ``formicary playground`` in a real headless Chromium, driven by Playwright.

The server runs as the real command in a subprocess; the browser is Debian's
``/usr/bin/chromium`` with a fresh profile. Numbers read from the page are compared
with the engine's own computation on the model file the page downloads.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

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


@pytest.fixture
def page(browser, server):
    page = browser.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def local_only(request):
        if not request.url.startswith((server, server.replace("http", "ws"), "data:")):
            problems.append(f"request to {request.url}")

    page.on("request", local_only)
    page.problems = problems
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
