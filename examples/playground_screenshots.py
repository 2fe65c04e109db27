"""Take the playground screenshots in docs/images/ (mid-training, in headless Chromium).

Runs ``formicary playground`` in a subprocess and drives Debian's Chromium with
Playwright for Python (``pip install 'formicary[test]'``; no ``playwright install``
needed: it uses /usr/bin/chromium)::

    python examples/playground_screenshots.py            # writes docs/images/playground-*.png
    python examples/playground_screenshots.py --out /tmp  # somewhere else
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
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
ROOT = Path(__file__).resolve().parents[1]


def wait_for_epoch(page, epoch: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        f"() => window.formicaryPlayground.frame.epoch >= {epoch}", timeout=timeout
    )


def three_arms(rows: int = 360, seed: int = 4) -> bytes:
    """A CSV ``x1,x2,arm`` of three spiral arms (labels ``arm A/B/C``), three decimals."""
    rng = np.random.default_rng(seed)
    lines = ["x1,x2,arm"]
    for i in range(rows):
        k = i % 3
        t = rng.uniform(0.15, 1.0)
        angle = 2 * np.pi * k / 3 + 3.0 * t
        x = t * np.array([np.cos(angle), np.sin(angle)]) + rng.normal(0, 0.06, 2)
        lines.append(f"{x[0]:.3f},{x[1]:.3f},arm {'ABC'[k]}")
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "formicary", "playground", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            browser = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                args=ARGS,
                headless=True,
                viewport={"width": 1400, "height": 1000},
            )
            page = browser.new_page()

            # 1. Spirals, mid-training, a neuron of the second hidden layer explained.
            page.goto(
                url + "#data=spirals&noise=0.05&points=400&layers=8,8&act=tanh,tanh"
                "&opt=adam&lr=0.03&batch=10&seed=2"
            )
            page.wait_for_function("() => window.formicaryPlayground?.stats.frames > 0")
            page.click('.node[data-layer="2"][data-neuron="3"]')
            page.click("#play")
            wait_for_epoch(page, 170)
            page.click("#play")
            page.wait_for_function("() => window.formicaryPlayground.frame.playing === false")
            page.screenshot(path=out / "playground-training.png", full_page=True)

            # 2. XOR: the equations of one neuron with the last update, close up.
            page.goto(
                url + "?xor#data=xor&points=300&layers=4,4&act=tanh,tanh&opt=sgd&lr=0.1&seed=0"
            )
            page.wait_for_function("() => window.formicaryPlayground?.stats.frames > 0")
            page.click("#play")
            wait_for_epoch(page, 60)
            page.click("#play")
            page.wait_for_function("() => window.formicaryPlayground.frame.playing === false")
            page.click('.node[data-layer="1"][data-neuron="2"]')
            page.wait_for_selector('#equations [data-role="z"]')
            page.locator(".network-panel").screenshot(path=out / "playground-neuron.png")

            # 3. The identity switch: the trained XOR network collapses to a straight line.
            page.click("#play")
            page.wait_for_function(
                "() => window.formicaryPlayground.frame.test_metric >= 0.9", timeout=60_000
            )
            page.click("label.switch")
            switched = page.evaluate("() => window.formicaryPlayground.frame.epoch")
            wait_for_epoch(page, switched + 60)
            page.click("#play")
            page.wait_for_function("() => window.formicaryPlayground.frame.playing === false")
            page.screenshot(path=out / "playground-identity.png", full_page=True)

            # 4. An uploaded CSV with three classes: a softmax output, one colour per class.
            page.goto(url + "?classes#layers=8,8&act=tanh,tanh&opt=adam&lr=0.03&batch=10&seed=1")
            page.wait_for_function("() => window.formicaryPlayground?.stats.frames > 0")
            upload = {"name": "three-spirals.csv", "mimeType": "text/csv", "buffer": three_arms()}
            page.set_input_files("#csv-file", files=[upload])
            page.wait_for_function("() => window.formicaryPlayground.setup.sizes.at(-1) === 3")
            page.click('.node[data-layer="3"][data-neuron="2"]')
            page.click("#play")
            wait_for_epoch(page, 250, timeout=120_000)
            page.click("#play")
            page.wait_for_function("() => window.formicaryPlayground.frame.playing === false")
            page.screenshot(path=out / "playground-multiclass.png", full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    for name in ("training", "neuron", "identity", "multiclass"):
        print(out / f"playground-{name}.png")


if __name__ == "__main__":
    main()
