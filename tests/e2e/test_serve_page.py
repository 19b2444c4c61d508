"""`amphora serve`'s page (GET /) in headless Chromium, driven by Selenium: it lists the served
models, vocodes an uploaded wav and speaks typed text, playing the audio as it streams (Web
Audio), and shows the first audio's latency. The page keeps its state in the DOM; a screenshot
must not be blank."""
import io
import json
import shutil
import subprocess

import numpy as np
import pytest

from e2e_util import ROOT, write_pcm16
from serve_util import Server

EXPORT = [str(ROOT / "scripts" / "bin" / "amphora-export")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve_page")
    subprocess.run(EXPORT + ["vocoder", "--family", "hifigan", "--random-init", "--seed", "0",
                             "--formats", "onnx", "--output", str(root / "hifigan"), "--quiet"],
                   check=True, timeout=600)
    subprocess.run(EXPORT + ["acoustic", "--family", "fastspeech2", "--random-init", "--seed", "3",
                             "--formats", "onnx", "--output", str(root / "fs2"), "--quiet"],
                   check=True, timeout=600)
    with Server("--model", root / "hifigan", "--voice", root / "fs2", "--threads", 1) as s:
        s.rate = json.loads((root / "hifigan" / "amphora.json").read_text())["sample_rate"]
        yield s


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "apt-get install chromium chromium-driver (scripts/setup.sh)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1000,900", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def wait_for_state(browser, states, timeout=120):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(
        lambda d: d.find_element("tag name", "body").get_attribute("data-state") in states)
    return browser.find_element("tag name", "body").get_attribute("data-state")


def number(browser, element_id):
    return float(browser.find_element("id", element_id).text)


def play_and_wait(browser):
    browser.find_element("id", "play").click()
    state = wait_for_state(browser, ("done", "error"))
    assert state == "done", browser.find_element("id", "error").text


def test_the_page_vocodes_an_upload_and_plays_it_as_it_streams(server, browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    browser.get(f"http://127.0.0.1:{server.port}/")
    assert wait_for_state(browser, ("idle", "error")) == "idle"
    models = Select(browser.find_element("id", "model"))
    assert [o.get_attribute("value") for o in models.options] == ["vocode:hifigan", "tts:fs2"]
    seconds = 1.5
    t = np.arange(int(server.rate * seconds)) / server.rate
    write_pcm16(tmp_path / "upload.wav", 0.4 * np.sin(2 * np.pi * 200 * t), server.rate)
    browser.find_element("id", "wav").send_keys(str(tmp_path / "upload.wav"))
    play_and_wait(browser)
    received, played = number(browser, "samples-received"), number(browser, "samples-played")
    assert received >= 0.9 * seconds * server.rate
    assert played == received  # every piece was scheduled and ended on the audio clock
    first_audio_ms = number(browser, "first-audio-ms")
    assert 0 < first_audio_ms <= number(browser, "total-ms")

    # The screenshot shows the page: text and the waveform, not a blank canvas.
    from PIL import Image
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    shot.save(tmp_path / "page.png")
    pixels = np.asarray(shot)
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


def test_the_page_speaks_typed_text(server, browser):
    from selenium.webdriver.support.ui import Select

    browser.get(f"http://127.0.0.1:{server.port}/")
    wait_for_state(browser, ("idle",))
    Select(browser.find_element("id", "model")).select_by_value("tts:fs2")
    text = browser.find_element("id", "text")
    text.clear()
    text.send_keys("The quick brown fox jumps over the lazy dog.")
    play_and_wait(browser)
    assert number(browser, "samples-played") == number(browser, "samples-received") > 0
    assert number(browser, "first-audio-ms") > 0


def test_the_page_shows_a_refusal(server, browser):
    browser.get(f"http://127.0.0.1:{server.port}/")
    wait_for_state(browser, ("idle",))
    browser.find_element("id", "play").click()  # no file chosen
    assert wait_for_state(browser, ("error",)) == "error"
    assert "choose a recording" in browser.find_element("id", "error").text
