"""A real browser (Debian's headless chromium, driven by Playwright) uses the page like a person.

Skipped only on a machine without /usr/bin/chromium outside CI; in CI (CI set) that fails, since
.ci/run installs it. With UPDATE_SCREENSHOT=1 the screenshot also refreshes docs/app-screenshot.png.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

import app
from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHOTO = REPO / "examples" / "chelsea.jpg"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                                reason=f"{CHROMIUM} not installed (apt-get install chromium); required in CI")


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    """The app with the embedded default weights, served from this process on 127.0.0.1."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        demo = app.build_demo(app.load_colorizers(["default"]))
        app.launch(demo, server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
        yield demo.local_url
        demo.close()


def test_upload_colorize_and_see_the_result(app_url, tmp_path):
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: .ci/run must apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        expect(page.get_by_role("heading", name="Colorize old photos")).to_be_visible(timeout=30_000)
        expect(page.locator("li", has_text="Weights:")).to_contain_text("embedded default")
        expect(page.locator("li", has_text="Limits:")).to_contain_text("50 megapixels")

        page.locator("#photo input[type=file]").set_input_files(PHOTO)
        page.get_by_role("button", name="Colorize", exact=True).click()
        download = page.locator("#download a")
        expect(download).to_have_attribute("href", re.compile(r"/chelsea-colorized\.png$"), timeout=60_000)
        slider = page.locator("#result img")
        expect(slider).to_have_count(2)
        slider.last.evaluate("img => img.decode()")  # wait until the browser has drawn it
        widths = slider.evaluate_all("imgs => imgs.map(img => img.naturalWidth)")
        assert widths == [Image.open(PHOTO).width] * 2  # before and after, both at full resolution

        screenshot = tmp_path / "app.png"
        page.screenshot(path=screenshot, full_page=True)
        browser.close()
    assert screenshot.stat().st_size > 10_000  # a real page, not a blank
    if os.environ.get("UPDATE_SCREENSHOT"):  # refresh the README's picture on request, never as a side effect
        shutil.copyfile(screenshot, REPO / "docs" / "app-screenshot.png")


def test_a_click_on_the_photo_shows_swatches_and_one_becomes_a_hint(app_url):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        page.locator("#photo input[type=file]").set_input_files(PHOTO)
        shown = page.locator("#photo img").first
        expect(shown).to_be_visible(timeout=30_000)
        shown.click(position={"x": 60, "y": 60})
        expect(page.locator("#suggestions")).to_contain_text("Likely colours at", timeout=60_000)
        swatches = page.locator("#suggestions span span")
        assert swatches.count() >= 2
        page.locator("#use-suggestion label").first.click()
        page.get_by_text("Colour hints: paint the colours you know").click()  # open the accordion
        expect(page.locator("#hints-json textarea")).to_have_value(re.compile(r'"color": "#[0-9a-f]{6}"'), timeout=30_000)
        browser.close()
