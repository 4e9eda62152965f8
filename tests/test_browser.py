"""The notebooks as a reader meets them: JupyterLab in headless Chromium, on a fresh clone of the project.

``./run_all.sh --lab`` of a ``git clone`` (the environment reused) serves the project and opens on notebooks/;
notebook 01 and notebook 41 (its default: the committed study) are opened, run with Run > Run All Cells, and saved.
A notebook fails on an error output, on output written to stderr, or on fewer figures than it draws. Afterwards the
clone's tree must be as committed: ``git status --porcelain`` lists nothing but the two saved notebooks (committed
tables and figures are rewritten byte for byte), their outputs are stripped by the filter the set-up installs (no
diff), and once staged (which stages nothing) ``git status --porcelain`` is empty. A copy of 01 with an error cell
shows that an error fails the check.

Needs Chromium and its driver (Debian: ``apt-get install -y chromium chromium-driver``, which the fixture runs when
they are missing and it may) and selenium (``.[dev]``); skipped without them unless ``$GRANLIB_BROWSER_REQUIRED`` is
set, as ``.ci/run`` sets it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from granlib.project import PROJECT_ENV, REPO_ROOT

REQUIRED_ENV = "GRANLIB_BROWSER_REQUIRED"
LAB_START_S, OPEN_S, RUN_S, SAVE_S = 180, 180, 600, 60
# figures each notebook draws (image outputs at least): 01: regions, normalisers, toy GAN; 41: pilot, FD, samples
FIGURES = {"01_lipschitz_intuition.ipynb": 3, "41_cifar10_cpu_study.ipynb": 3}

# The open notebook as JupyterLab holds it (window.jupyterapp: --LabApp.expose_app_in_browser): its kernel's status,
# whether it is unsaved, and per code cell its prompt ("[*]" while queued or running) and outputs.
STATE_JS = """
const app = window.jupyterapp;
const panel = app && app.shell.currentWidget;
if (!panel || !panel.content || !panel.sessionContext || !panel.context) { return null; }
const session = panel.sessionContext.session;
const cells = [];
for (const cell of panel.content.widgets) {
  if (cell.model.type !== 'code') { continue; }
  const prompt = cell.promptNode || (cell.inputArea && cell.inputArea.promptNode);
  cells.push({count: cell.model.executionCount, prompt: prompt ? prompt.textContent : '',
              outputs: cell.model.outputs.toJSON().map(o => ({type: o.output_type, name: o.name || '',
                ename: o.ename || '', evalue: o.evalue || '', text: o.text ? [].concat(o.text).join('') : '',
                mimes: Object.keys(o.data || {})}))});
}
return {path: panel.context.path, kernel: session && session.kernel ? session.kernel.status : 'none',
        ready: panel.context.isReady, dirty: panel.context.model.dirty, cells: cells};
"""


def wait_for(what: str, timeout: float, probe, interval: float = 1.0):
    """Poll ``probe`` until it returns something truthy; TimeoutError naming ``what`` and the last value if not."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s (last seen: {str(last)[:500]})")


def ensure_chromium() -> str:
    """The chromedriver on PATH, installing Debian's chromium and chromium-driver first when missing and this
    process may (root with apt-get); else skip, or fail where the browser test is required."""
    if not shutil.which("chromedriver") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium chromium-driver", shell=True,
                       capture_output=True, timeout=900)
    driver = shutil.which("chromedriver")
    if driver is None:
        message = "no chromedriver: apt-get update && apt-get install -y chromium chromium-driver"
        if os.environ.get(REQUIRED_ENV):
            pytest.fail(message)
        pytest.skip(message)
    return driver


def setup_hash(pyproject: Path) -> str:
    return hashlib.sha256(pyproject.read_bytes()).hexdigest()


class Lab:
    """``./run_all.sh --lab`` of ``clone`` on localhost (the environment of this Python reused), seen through
    headless Chromium."""

    def __init__(self, clone: Path, logs: Path, driver_path: str):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        env_dir = Path(sys.executable).parent.parent
        marker = env_dir / ".granlib-setup-complete"
        if not marker.is_file() or marker.read_text().strip() != setup_hash(clone / "pyproject.toml"):
            pytest.fail(f"the environment {env_dir} is not set up for the committed pyproject.toml: its "
                        f"./run_all.sh --lab would reinstall it; run ./run_tests.sh once (it sets up), then again")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.token, self.url = uuid.uuid4().hex, f"http://127.0.0.1:{self.port}"
        settings = logs / "lab-settings"
        for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the page
                               "apputils-extension/notification": {"fetchNews": "false"}}.items():
            path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        environment = {k: v for k, v in os.environ.items() if k not in (PROJECT_ENV, "CONDA_PREFIX")}
        environment.update(VIRTUAL_ENV=str(env_dir), PYTHONPATH=str(clone),  # the clone's granlib in its kernels
                           JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(logs / "workspaces"))
        self.log = (logs / "lab.log").open("w")
        self.server = subprocess.Popen(
            ["bash", str(clone / "run_all.sh"), "--lab", "--no-browser", f"--ServerApp.port={self.port}",
             "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
             "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True"],
            cwd=clone, env=environment, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.driver = None
        try:
            wait_for(f"JupyterLab answering on {self.url} (log: {logs / 'lab.log'})", LAB_START_S, self.answers)
            options = webdriver.ChromeOptions()
            if shutil.which("chromium"):
                options.binary_location = shutil.which("chromium")
            for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1200"):
                options.add_argument(argument)
            self.driver = webdriver.Chrome(service=Service(driver_path), options=options)
            self.driver.set_script_timeout(60)
        except BaseException:
            self.stop()
            raise

    def answers(self) -> bool:
        import requests

        assert self.server.poll() is None, "./run_all.sh --lab exited; see its log"
        try:
            return requests.get(f"{self.url}/api/status", params={"token": self.token}, timeout=5).ok
        except requests.ConnectionError:
            return False

    def contents(self, path: str = "") -> list[str]:
        import requests

        listing = requests.get(f"{self.url}/api/contents/{path}", params={"token": self.token}, timeout=30).json()
        return sorted(item["name"] for item in listing["content"])

    def state(self) -> dict | None:
        return self.driver.execute_script(STATE_JS)

    def open_start_page(self) -> tuple[str, str, list[str]]:
        """The page ``./run_all.sh --lab`` opens: the file browser's root (its home crumb's title), the folder it
        shows (the breadcrumbs) and the names listed there."""
        from selenium.webdriver.common.by import By

        self.driver.get(f"{self.url}/?token={self.token}")
        listed = wait_for("the file browser's listing", OPEN_S, lambda: [
            e.text for e in self.driver.find_elements(By.CSS_SELECTOR, ".jp-DirListing-itemText") if e.text])
        home = self.driver.find_element(By.CSS_SELECTOR, ".jp-BreadCrumbs-home").get_attribute("title")
        return home, self.driver.find_element(By.CSS_SELECTOR, ".jp-BreadCrumbs").text, listed

    def run_all(self, notebook: str) -> dict:
        """Open ``notebooks/<notebook>``, wait for its kernel, Run > Run All Cells, wait until no cell is queued or
        running and the kernel is idle, save; returns the final state."""
        from selenium.webdriver.common.by import By

        self.driver.get(f"{self.url}/lab/tree/notebooks/{notebook}?token={self.token}")
        path = f"notebooks/{notebook}"
        wait_for(f"{notebook} open with an idle kernel", OPEN_S, lambda: (
            (s := self.state()) and s["path"] == path and s["ready"] and s["kernel"] == "idle" and s["cells"]))
        for menu, item in (("Run", "Run All Cells"),):  # the reader's way: the menu bar
            wait_for(f"menu {menu}", 30, lambda m=menu: self.click(By.XPATH, f"//div[contains(@class, "
                     f"'lm-MenuBar-itemLabel') and normalize-space()='{m}']"))
            wait_for(f"menu item {item}", 30, lambda i=item: self.click(By.XPATH, f"//div[contains(@class, "
                     f"'lm-Menu-itemLabel') and normalize-space()='{i}']"))
        wait_for(f"{notebook}: Run All started", 60, lambda: any(
            "*" in c["prompt"] or c["count"] for c in (self.state() or {"cells": []})["cells"]))
        settled = []  # the kernel idle with no cell queued or running, twice in a row

        def done() -> dict | None:
            state = self.state()
            idle = state and state["kernel"] == "idle" and not any("*" in c["prompt"] for c in state["cells"])
            settled.append(bool(idle))
            return state if settled[-2:] == [True, True] else None

        state = wait_for(f"{notebook}: every cell run (Run All) and the kernel idle", RUN_S, done, interval=2)
        self.driver.execute_script("return window.jupyterapp.commands.execute('docmanager:save')")
        wait_for(f"{notebook} saved", SAVE_S, lambda: (s := self.state()) and not s["dirty"])
        return state

    def click(self, by: str, selector: str) -> bool:
        found = [e for e in self.driver.find_elements(by, selector) if e.is_displayed()]
        if found:
            found[0].click()
        return bool(found)

    def stop(self) -> None:
        if self.driver is not None:
            self.driver.quit()
        if self.server.poll() is None:
            os.killpg(self.server.pid, 15)  # the server and the kernels it started (a session of their own)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, 9)
        self.log.close()


def problems(state: dict, figures: int) -> list[str]:
    """What a reader would call broken in a run notebook: error outputs, stderr, cells left unrun, too few figures."""
    found = []
    for i, cell in enumerate(state["cells"]):
        for output in cell["outputs"]:
            if output["type"] == "error":
                found.append(f"code cell {i}: {output['ename']}: {output['evalue'][:300]}")
            elif output["type"] == "stream" and output["name"] == "stderr":
                found.append(f"code cell {i}: stderr: {output['text'][:300]}")
    unrun = [i for i, cell in enumerate(state["cells"]) if not cell["count"]]
    if unrun:
        found.append(f"code cells never run: {unrun}")
    drawn = sum("image/png" in output["mimes"] for cell in state["cells"] for output in cell["outputs"])
    if drawn < figures:
        found.append(f"{drawn} figures shown, expected at least {figures}")
    return found


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab of a fresh clone (``git clone`` of this repository's HEAD), through headless Chromium."""
    pytest.importorskip("selenium")
    driver = ensure_chromium()
    root = tmp_path_factory.mktemp("browser")
    clone = root / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True, timeout=300)
    server = Lab(clone, root, driver)
    server.clone = clone
    yield server
    server.stop()


@pytest.mark.slow
def test_a_reader_runs_notebooks_01_and_41_in_jupyterlab_on_a_fresh_clone(lab):
    """./run_all.sh --lab serves the project (results/ beside notebooks/) and opens on notebooks/; 01 and 41 run
    with Run All, show their figures and no error, and leave the clone's tree as committed."""
    start = time.monotonic()
    assert {"notebooks", "results", "README.md"} <= set(lab.contents())  # the project root is served
    home, folder, listed = lab.open_start_page()
    assert Path(home).resolve() == lab.clone.resolve() and folder.strip("/") == "notebooks", (home, folder)
    assert any(name.endswith(".ipynb") for name in listed), listed  # the notebooks (the listing is windowed)
    failures = {}
    for notebook, figures in FIGURES.items():
        found = problems(lab.run_all(notebook), figures)
        if found:
            failures[notebook] = found
    assert not failures, json.dumps(failures, indent=1, ensure_ascii=False)
    saved = [f"notebooks/{name}" for name in FIGURES]
    changed = git(lab.clone, "status", "--porcelain").splitlines()
    assert {line[3:] for line in changed} <= set(saved), "running the notebooks changed the fresh clone:\n" + "\n".join(
        changed)  # committed tables and figures are rewritten byte for byte
    # A notebook saved with its outputs differs in size from its committed (stripped) copy, so git status lists it
    # until it is next staged, without reading it; through the filter nothing differs: staging it stages nothing.
    assert git(lab.clone, "diff", "--stat", *saved) == "", "a saved notebook's outputs would be committed"
    git(lab.clone, "add", *saved)
    assert git(lab.clone, "status", "--porcelain") == "", "staging the saved notebooks staged a change"
    print(f"browser test: {time.monotonic() - start:.0f} s for 01 and 41")


def git(clone: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=clone, capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_an_error_cell_fails_the_check(lab):
    """01 with a failing cell after its set-up: the error is reported, and the cells after it are reported unrun."""
    source = json.loads((lab.clone / "notebooks" / "01_lipschitz_intuition.ipynb").read_text())
    broken = {"cell_type": "code", "execution_count": None, "id": "injected-error", "metadata": {}, "outputs": [],
              "source": ["raise RuntimeError('injected for the test')"]}
    source["cells"].insert(3, broken)
    copy = lab.clone / "notebooks" / "01_with_an_error.ipynb"
    copy.write_text(json.dumps(source, indent=1, ensure_ascii=False) + "\n")
    try:
        found = problems(lab.run_all(copy.name), FIGURES["01_lipschitz_intuition.ipynb"])
    finally:
        copy.unlink()
    assert any("RuntimeError: injected for the test" in line for line in found), found
    assert any(line.startswith("code cells never run") for line in found), found
