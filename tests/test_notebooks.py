"""Every numbered notebook, executed with the smoke profile: headlessly through the runner (papermill), then as a
reader runs it, through a Jupyter server and a "Python (granlib)" kernel. Both share one profile with
results and runs under a temporary directory, so the second execution finds the runs finished and the rows
written (it re-plots, it does not re-train)."""

import json
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from granlib.jsonl import read_jsonl
from granlib.normalizers import default_K
from granlib.project import REPO_ROOT
from granlib.study.ledger import costs, images, regime
from granlib.study.ledger.render import NO_VERDICT
from granlib.study.pipeline import runner
from granlib.study.pipeline.experiments import load_profile
from granlib.study.pipeline.results import SMOKE_STAMP, load_rows

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
KERNEL = {"name": "granlib", "display_name": "Python (granlib)", "language": "python"}
LANGUAGE_INFO = {"codemirror_mode", "file_extension", "mimetype", "name", "nbconvert_exporter", "pygments_lexer",
                 "version"}


def test_notebooks_are_stored_without_outputs_and_name_the_granlib_kernel():
    assert len(NOTEBOOKS) == 12
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        cells = notebook["cells"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"), path
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
        if path.name[:2] in ("10", "11", "12", "13", "14"):  # papermill can set the dataset
            assert "dataset = " in "".join(tagged[0]["source"]), path.name
        assert notebook["metadata"]["kernelspec"] == KERNEL, path.name


def test_notebooks_open_unmodified_in_jupyterlab():
    """Every notebook carries the full language_info a Python kernel reports (JupyterLab writes it into a notebook
    that lacks any of it), and is stored exactly as the nbstripout filter writes it, so a notebook saved from
    JupyterLab leaves git status clean."""
    notebooks = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= len(NOTEBOOKS)
    for path in notebooks:
        info = json.loads(path.read_text())["metadata"]["language_info"]
        assert LANGUAGE_INFO <= set(info) and info["name"] == "python", path.name
        assert re.fullmatch(r"3\.\d+\.\d+", info["version"]), path.name
        filtered = subprocess.run([sys.executable, "-m", "nbstripout", "--keep-id", "-t", str(path)],
                                  capture_output=True, text=True, check=True).stdout
        assert filtered == path.read_text(), f"{path.name} is not stored as the nbstripout filter writes it"


def test_the_claims_ledger_notebook_is_a_readers_notebook():
    """Notebook 40 calls the ledger room: at most 100 lines of code over all its cells, one set-up call, no guards
    against missing rows, and markdown before every code cell."""
    cells = json.loads((REPO_ROOT / "notebooks" / "40_claims_ledger.ipynb").read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert sum(1 for source in code for line in source.splitlines() if line.strip()) <= 100
    assert sum(source.count("ledger_notebook_setup(") for source in code) == 1 and "if len(" not in "".join(code)
    assert all(cells[i - 1]["cell_type"] == "markdown" for i, c in enumerate(cells) if c["cell_type"] == "code")


def test_papermill_reads_every_parameter():
    """papermill's parameter inspection (what --help-notebook and injection rely on) finds each assignment."""
    import nbformat
    from papermill.translators import PythonTranslator

    for path in NOTEBOOKS:
        notebook = nbformat.reads(path.read_text(), as_version=4)
        (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assigned = [line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line.split("#")[0]]
        assert [p.name for p in PythonTranslator.inspect(cell)] == assigned, path.name


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke profile with results and runs under a temporary directory, run once by ./run_all.sh's runner;
    returns (profile path, results directory, the runner's exit code)."""
    tmp = tmp_path_factory.mktemp("smoke")
    params = load_profile("smoke")
    params.update(results_dir=str(tmp / "results"), runs_dir=str(tmp / "runs"))
    profile = tmp / "smoke.yaml"
    profile.write_text(yaml.safe_dump(params))
    return profile, tmp / "results", runner.main(["--profile", str(profile)])


@pytest.mark.slow
def test_run_all_smoke_profile_produces_every_figure_and_table(smoke_run):
    _, results, exit_code = smoke_run
    assert exit_code == 0
    figures = {p.name for p in (results / "figures").glob("*.png")}
    expected = {"01_regions.png", "01_normalisers.png", "01_toy_gan.png", "k_sweep_fd.png", "k_sweep_curves.png",
                "all_runs_fd_effnetlite0.png"} | {f"{d}_{kind}.png" for d in ("cifar10", "cifar100", "stl10",
                                                                              "lsun_bedroom", "celeba")
                                                  for kind in ("curves", "samples")}
    assert expected <= figures
    rows = load_rows(results)
    params = load_profile("smoke")
    runs = {(dataset, method, default_K(method.split("/")[0]), seed) for dataset in params["datasets"]
            for method in params["methods"] for seed in params["seeds"]}
    runs |= {(params["sweep_dataset"], method, K, seed) for method in params["sweep_methods"]
             for K in params["K_values"] for seed in params["seeds"]}
    assert len(rows) == len(runs)  # a run that two notebooks make (the K sweep's default K) is one row
    assert set(rows.metric) == {"FD-EffNetLite0"} and (rows.profile == "smoke").all()
    assert rows.fd.notna().all() and (rows.n_fake == params["n_eval"]).all()
    tables = sorted((results / "tables").glob("*.md"))
    per_dataset_tables = [t for t in tables if t.name != "paper_fig1.md"]
    assert len(per_dataset_tables) == 5 and all("smoke — not a result" in t.read_text() for t in per_dataset_tables)
    assert all("Published anchors for" in t.read_text() for t in per_dataset_tables)  # shown in smoke too
    executed = REPO_ROOT / "results" / "executed" / "smoke"
    assert {p.name for p in executed.glob("*.ipynb")} >= {p.name for p in NOTEBOOKS}


@pytest.mark.slow
def test_the_ledger_notebook_runs_a_stamped_miniature_of_every_experiment(smoke_run):
    """Notebooks 40 and 41 under smoke: the 2-D study, the image study (every method, two seeds) and the cost
    measurement, each rendered as a ledger stamped "smoke — not a result", beside the profile's other smoke output."""
    _, results, exit_code = smoke_run
    assert exit_code == 0
    ledger_dir = results / "ledger"
    for name in ("ledger.md", "ledger_images.md", "ledger_costs.md"):
        assert SMOKE_STAMP in (ledger_dir / name).read_text(), name
    image_rows = read_jsonl(ledger_dir / "ledger_images.jsonl")
    assert len(image_rows) == len(images.METHODS) * 2 and {r["profile"] for r in image_rows} == {"ledger-smoke"}
    cost_rows = read_jsonl(ledger_dir / "costs.jsonl")
    assert {(r["method"], r["form"]) for r in cost_rows} == {
        (m.split("/")[0], form) for m in costs.cost_methods() for form in costs.FORMS}
    assert {"ledger_costs.png", "ledger_costs_C2.png"} <= {p.name for p in ledger_dir.glob("*.png")}
    assert {"ledger_images_fd.png", "ledger_images_samples.png"} <= {p.name for p in (results / "figures").glob("*")}
    for name in ("40_claims_ledger.ipynb", "41_cifar10_cpu_study.ipynb"):  # their "What we found" under smoke
        cells = json.loads((REPO_ROOT / "results" / "executed" / "smoke" / name).read_text())["cells"]
        last = [cell for cell in cells if cell["cell_type"] == "code"][-1]
        found = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/markdown", ""))
                        for o in last["outputs"])  # nbformat keeps text as a string or a list of lines
        sentences = [line for line in found.splitlines() if line.strip()]
        assert sentences and all(SMOKE_STAMP in line for line in sentences), name
        assert NO_VERDICT in found and "Verdicts:" not in found and "supported in" not in found, name
        assert "real images" not in found, name  # the smoke data is synthetic


@pytest.mark.slow
def test_the_regime_map_notebook_runs_a_stamped_miniature_and_states_no_verdict(smoke_run):
    """Notebook 42 under smoke: the map's miniature (every smoke cell, two seeds) beside the profile's other smoke
    output, its figures stamped, no verdict stated."""
    _, results, exit_code = smoke_run
    assert exit_code == 0
    rows = read_jsonl(results / "regime" / "regime_map.jsonl")
    settings = regime.profiles()["smoke"]
    assert len(rows) == len(settings["cells"]) * settings["seeds"] and {r["profile"] for r in rows} == {"regime-smoke"}
    assert read_jsonl(results / "regime" / "probe_curves.jsonl")
    figures = {p.name for p in (results / "figures").glob("*")}
    assert {"regime_phase.png", "regime_n2_over_eps.png", "regime_trap_share.png"} <= figures
    executed = json.loads((REPO_ROOT / "results" / "executed" / "smoke" / "42_regime_map.ipynb").read_text())
    printed = "".join(text for cell in executed["cells"] for output in cell.get("outputs", [])
                      for text in output.get("text", []))
    assert "no verdict is stated" in printed and "supported" not in printed and "contradicted" not in printed


# --- the same notebooks through a Jupyter server, as JupyterLab runs them


class JupyterServer:
    """A jupyter_server on localhost, started from this Python's environment, driven over REST and websockets."""

    def __init__(self, root: Path, log: Path):
        import requests

        self.requests = requests
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", f"--ServerApp.port={self.port}",
             "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
             "--ServerApp.allow_root=True",  # containers and CI often run as root
             f"--IdentityProvider.token={self.token}"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if self.get("/api/status").ok:
                    return
            except requests.ConnectionError:
                pass
            assert self.process.poll() is None, f"jupyter_server exited; see {log}"
            time.sleep(0.5)
        raise TimeoutError(f"jupyter_server did not answer within 120 s; see {log}")

    def get(self, path: str):
        return self.requests.get(self.url + path, headers={"Authorization": f"token {self.token}"}, timeout=30)

    def call(self, method: str, path: str, **kwargs):
        response = self.requests.request(method, self.url + path, headers={"Authorization": f"token {self.token}"},
                                         timeout=60, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def execute(server: JupyterServer, kernel_id: str, code: str, timeout: float = 600) -> list[dict]:
    """Run ``code`` in the kernel over the server's websocket; returns the iopub messages it caused."""
    import websocket
    from jupyter_server.services.kernels.connection.base import deserialize_binary_message

    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"
                                     f"?token={server.token}", timeout=timeout)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": msg_id,
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        outputs, replied, idle = [], False, False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            assert time.monotonic() < deadline, f"no reply within {timeout} s to:\n{code}"
            frame = ws.recv()  # a message with binary buffers (a widget's PNG) arrives as one binary frame
            message = deserialize_binary_message(frame) if isinstance(frame, bytes) else json.loads(frame)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if message["channel"] == "shell" and kind == "execute_reply":
                replied = True
            elif kind == "status":
                idle = message["content"]["execution_state"] == "idle"
            elif message["channel"] == "iopub":
                outputs.append(message)
        return outputs
    finally:
        ws.close()


def problems(outputs: list[dict]) -> list[str]:
    """Errors and anything written to stderr (warnings included)."""
    found = []
    for message in outputs:
        kind, content = message["header"]["msg_type"], message["content"]
        if kind == "error":
            found.append(f"{content['ename']}: {content['evalue']}")
        elif kind == "stream" and content["name"] == "stderr":
            found.append(f"stderr: {content['text'][:500]}")
    return found


@pytest.mark.slow
def test_every_notebook_runs_in_a_jupyter_server_with_the_granlib_kernel(smoke_run, tmp_path):
    """Each notebook is opened through the contents API, gets a kernel "granlib" from the server, and has its
    cells executed over the kernel's websocket (the smoke profile injected after the parameters cell, as
    papermill does): no error output and nothing on stderr."""
    pytest.importorskip("jupyter_server")
    from jupyter_client.kernelspec import KernelSpecManager

    if "granlib" not in KernelSpecManager().find_kernel_specs():
        pytest.fail('the Jupyter kernel "granlib" is not registered; ./run_tests.sh (scripts/ensure_env.sh) does it')
    profile, _, _ = smoke_run
    server = JupyterServer(REPO_ROOT, tmp_path / "jupyter_server.log")
    failures = {}
    try:
        for path in NOTEBOOKS:
            name = f"notebooks/{path.name}"
            notebook = server.call("GET", f"/api/contents/{name}?content=1&type=notebook")["content"]
            opened = server.call("POST", "/api/sessions",
                                  json={"path": name, "type": "notebook", "name": path.name,
                                        "kernel": {"name": "granlib"}})
            assert opened["kernel"]["name"] == "granlib"
            found = []
            try:
                for cell in notebook["cells"]:
                    if cell["cell_type"] != "code":
                        continue
                    found += problems(execute(server, opened["kernel"]["id"], cell["source"]))
                    if "parameters" in cell["metadata"].get("tags", []):
                        found += problems(execute(server, opened["kernel"]["id"], f"profile = {str(profile)!r}"))
                    if found:
                        break
            finally:
                server.call("DELETE", f"/api/sessions/{opened['id']}")
            if found:
                failures[path.name] = found
    finally:
        server.stop()
    assert not failures, json.dumps(failures, indent=1, ensure_ascii=False)


def test_the_results_notebooks_default_to_the_committed_rows_and_run_all_injects_its_own_profile(monkeypatch):
    """Run All of 40 or 41 as committed renders the committed study (profile cpu, no training); ./run_all.sh passes
    every notebook its profile, smoke unless told otherwise."""
    import nbformat
    from papermill.translators import PythonTranslator

    for name in ("40_claims_ledger.ipynb", "41_cifar10_cpu_study.ipynb"):
        notebook = nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4)
        (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert {p.name: p.default for p in PythonTranslator.inspect(cell)}["profile"] == '"cpu"', name
    seen = {}
    monkeypatch.setattr(runner, "run_notebooks", lambda args, root: seen.update(profile=args.profile) or 0)
    assert runner.main([]) == 0 and seen["profile"] == "smoke"
