"""The web page in a real headless Chromium, offline: no console errors, MathML laid out, every
δW1 and δX element lighting up exactly its derivation's cells, keyboard use, 320 px width.

Without Chromium (Debian's chromium and chromium-driver) or Selenium the tests skip, except
with CI=1, where that is a failure. Selenium Manager is never asked to download a driver.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("markdown_it")
pytest.importorskip("latex2mathml")

from html_pages import expected_cells, page, spec_for  # noqa: E402

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[browser]'"
    for tool in (CHROMIUM, DRIVER):
        if not Path(tool).exists() and shutil.which(Path(tool).name) is None:
            return f"{tool} not installed (apt-get install chromium chromium-driver)"
    return None


def _path(tool: str) -> str:
    return tool if Path(tool).exists() else str(shutil.which(Path(tool).name))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _path(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1000,900",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(_path(DRIVER)), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    paths = {}
    for name in ("default", "general"):
        paths[name] = folder / f"{name}.html"
        paths[name].write_text(page(name), encoding="utf-8")
    return paths


def load(browser, path: Path, width: int = 1000) -> None:
    browser.set_window_size(width, 900)
    browser.get(path.as_uri())
    browser.get_log("browser")  # drop what an earlier page logged


# For every focusable cell of a figure: activate it as the page does, read the lit cells.
LIT = """
const kind = arguments[0], out = {};
const fig = document.querySelector('.explore[data-kind="' + kind + '"]');
for (const cell of fig.querySelectorAll('rect[tabindex]')) {
  window.symbpShow(cell);
  out[cell.dataset.key] = Array.from(fig.querySelectorAll('rect.hl'), el => el.dataset.key);
}
return out;
"""


@pytest.mark.parametrize("name", ["default", "general"])
def test_every_element_lights_its_index_set(browser, pages, name):
    load(browser, pages[name])
    want = expected_cells(spec_for(name))
    weights = browser.execute_script(LIT, "weights")
    inputs = browser.execute_script(LIT, "inputs")
    assert {k for k in want if k.startswith("dW1")} == set(weights)
    assert {k for k in want if k.startswith("dX")} == set(inputs)
    for key, lit in weights.items():
        assert sorted(lit) == sorted(want[key]), key  # X and δZ cells, each drawn once
    for key, lit in inputs.items():
        assert sorted(lit) == sorted(k for k in want[key] if k.startswith("dZ1")), key
    assert browser.get_log("browser") == []


def test_no_console_errors_and_mathml_laid_out(browser, pages, tmp_path):
    load(browser, pages["default"])
    boxes = browser.execute_script(
        "return Array.from(document.querySelectorAll('math'))"
        ".filter(m => !m.closest('[hidden]')).map(m => {"
        " const b = m.getBoundingClientRect(); return [b.width, b.height]; });"
    )
    assert len(boxes) > 400
    assert all(w > 0 and h > 0 for w, h in boxes)
    # MathML Core layout: a fraction is taller than the text line around it
    tall = browser.execute_script(
        "const f = document.querySelector('math mfrac'); return f.getBoundingClientRect().height;"
    )
    assert tall > 20
    assert browser.get_log("browser") == []


def test_keyboard_focus_and_enter(browser, pages):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    load(browser, pages["default"])
    cell = browser.find_element(By.CSS_SELECTOR, 'rect[data-key="dW1:0,0,0,1"]')
    browser.execute_script("arguments[0].focus();", cell)
    lit = browser.execute_script(
        "return Array.from(document.querySelectorAll('#explore-weights rect.hl'),"
        " el => el.dataset.key);"
    )
    assert sorted(lit) == sorted(expected_cells(spec_for("default"))["dW1:0,0,0,1"])
    other = browser.find_element(By.CSS_SELECTOR, 'rect[data-key="dX:0,2,3"]')
    browser.execute_script("arguments[0].focus();", other)
    browser.execute_script(
        "window.symbpShow(document.querySelector('rect[data-key=\"dX:0,0,0\"]'))"
    )
    other.send_keys(Keys.ENTER)
    text = browser.find_element(By.CSS_SELECTOR, "#explore-inputs .products").text
    assert "sum of 9 products" in text
    # Tab reaches the cells: they are in the focus order
    focusable = browser.execute_script(
        "return document.querySelectorAll('rect[tabindex=\"0\"]').length"
    )
    assert focusable == 9 + 36 + 4
    steps = browser.find_element(By.ID, "step-next")
    steps.send_keys(Keys.ENTER)
    now = browser.execute_script(
        "return Array.from(document.querySelectorAll('#chain-steps g'))"
        ".filter(g => g.querySelector('.now')).map(g => g.dataset.grid);"
    )
    assert now == ["node:Z2", "node:A2"]


def test_pool_winner_lit(browser, pages):
    load(browser, pages["default"])
    data = json.loads(
        browser.execute_script("return document.getElementById('symbp-data').textContent")
    )
    for w in data["pool"]["windows"]:
        lit = browser.execute_script(
            "window.symbpShow(document.querySelector('rect[data-key=\"' + arguments[0] + '\"]'));"
            "const keys = c => Array.from(document.querySelectorAll('#explore-pool rect.' + c),"
            " e => e.dataset.key); return [keys('winner'), keys('win')];",
            w["key"],
        )
        assert lit == [[w["winner"]], w["cells"]]


@pytest.mark.parametrize("name", ["default", "general"])
def test_narrow_screen_has_no_horizontal_overflow(browser, pages, name, tmp_path):
    load(browser, pages[name], width=320)
    inner = browser.execute_script("return window.innerWidth")
    wide = browser.execute_script(
        "return Array.from(document.querySelectorAll('body *')).filter(e =>"
        " e.getBoundingClientRect().right > window.innerWidth + 1 &&"
        " !e.closest('table, .display, p, li, pre, td')).map(e => e.tagName).slice(0, 5);"
    )
    assert browser.execute_script("return document.documentElement.scrollWidth") <= inner, wide
    shots = screenshots(browser, tmp_path)
    assert len(shots) >= 10


def screenshots(browser, folder: Path) -> list[Path]:
    """One PNG per section (each <h2>), scrolled into view."""
    count = browser.execute_script("return document.querySelectorAll('h2').length")
    paths = []
    for n in range(count):
        browser.execute_script("document.querySelectorAll('h2')[arguments[0]].scrollIntoView()", n)
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        path = folder / f"section-{n:02d}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        paths.append(path)
    return paths
