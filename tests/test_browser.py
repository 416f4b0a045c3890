"""Notebook 02 as a researcher meets it: JupyterLab on 127.0.0.1, opened in a real headless Chromium
(Debian's ``chromium`` and ``chromium-driver``, driven by selenium), run from the Run menu; moving the
explorer's scene and motion sliders must change its picture, and no widget may fail to render.

Skipped, with the reason in pytest's summary, where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="Chromium is not installed: `apt-get install chromium chromium-driver` (see the README) runs this test",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 over a copy of the notebook (autosave never touches the repo)."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "02_latent_trajectories.ipynb", tmp_path / "notebooks")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "vosgan-small.pt").symlink_to(ROOT / "checkpoints" / "vosgan-small.pt")
    port, token = free_port(), "vosgan-browser-test"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}"]
    command += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--allow-root"]
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.time() + 300  # a loaded 2-core machine (a training run beside the suite) starts it slowly
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None or time.time() > deadline:
            server.kill()
            pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
        time.sleep(0.5)
    try:
        yield f"http://127.0.0.1:{port}/lab/tree/notebooks/02_latent_trajectories.ipynb?token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_explorer_in_jupyterlab_in_a_real_browser(lab):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    wait = lambda seconds: WebDriverWait(driver, seconds, poll_frequency=0.5)  # noqa: E731
    try:
        driver.get(lab)
        wait(300).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell"))
        menu = next(e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text == "Run")
        menu.click()
        item = wait(10).until(
            lambda d: next(
                (e for e in d.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel") if e.text == "Run All Cells"), None
            )
        )
        item.click()

        def explorer_image(d):
            images = d.find_elements(By.CSS_SELECTOR, "img.widget-image")
            return images[0] if images else None

        wait(600).until(explorer_image)
        sliders = {
            s.find_element(By.CSS_SELECTOR, "label").text: s
            for s in driver.find_elements(By.CSS_SELECTOR, ".widget-slider.widget-hslider")
        }
        assert {"scene z_C", "motion z_M"} <= set(sliders), sorted(sliders)
        for name, value in (("scene z_C", "1.00"), ("motion z_M", "0.00")):
            before = explorer_image(driver).get_attribute("src")
            readout = sliders[name].find_element(By.CSS_SELECTOR, ".widget-readout")
            readout.click()
            readout.send_keys(Keys.CONTROL, "a")
            readout.send_keys(value, Keys.ENTER)
            wait(180).until(lambda d, b=before: explorer_image(d).get_attribute("src") != b)
        text = driver.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel").text
        assert "Error displaying widget" not in text and "Error rendering" not in text
        assert "forward passes" in text  # the explorer's status line reports each update
        errors = [
            e
            for e in driver.find_elements(By.CSS_SELECTOR, '[data-mime-type="application/vnd.jupyter.stderr"]')
            if "Traceback" in e.text
        ]
        assert not errors, errors[0].text[:2000]
        if os.environ.get("VOSGAN_SCREENSHOT"):  # for a person to look at
            driver.execute_script("arguments[0].scrollIntoView();", explorer_image(driver))
            driver.save_screenshot(os.environ["VOSGAN_SCREENSHOT"])
    finally:
        driver.quit()
