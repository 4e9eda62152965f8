import json
import re
import subprocess

import torch

from granlib.training import provenance as versions
from granlib.training.config import preset


def test_device_name_on_cpu():
    assert versions.device_name("cpu") == versions.device_name(torch.device("cpu")) == "cpu"


def test_git_commit_names_this_checkout():
    commit = versions.git_commit()
    assert commit is not None and re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", commit)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert commit.startswith(head)


def test_only_code_makes_a_commit_dirty(tmp_path):
    """Rows appended to results/ while a study runs leave its commit clean; an edit to the package does not."""
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    for name in ("granlib/code.py", "params/study.yaml", "results/rows.jsonl"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("first\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "results/rows.jsonl").write_text("first\nsecond\n")
    assert versions.checkout_commit(tmp_path) == head
    (tmp_path / "params/study.yaml").write_text("changed\n")
    assert versions.checkout_commit(tmp_path) == head + "+dirty"
    assert versions.checkout_commit(tmp_path / "results") == head + "+dirty"  # from any folder of the checkout
    assert versions.checkout_commit(tmp_path.parent / "elsewhere-not-a-repo-") is None


def no_git(*args, **kwargs):
    raise FileNotFoundError("git")


def test_git_commit_without_git(monkeypatch):
    versions.git_commit.cache_clear()
    monkeypatch.setattr(versions.subprocess, "run", no_git)
    try:
        assert versions.git_commit() is None
    finally:
        versions.git_commit.cache_clear()


def test_git_commit_is_read_once_per_process(monkeypatch):
    """What a process's rows say is the code it loaded: a later commit (here: git gone) changes nothing."""
    versions.git_commit.cache_clear()
    first = versions.git_commit()
    monkeypatch.setattr(versions.subprocess, "run", no_git)
    assert versions.git_commit() == first is not None
    versions.git_commit.cache_clear()


def test_provenance_names_versions_device_and_dataset(tmp_path):
    config = preset("tiny", dataset="imagefolder:/data/cifar10-jpeg/train", dataset_variant="CIFAR-10 (JPEG-q75 copy)")
    versions.write_provenance(tmp_path, config, torch.device("cpu"))
    record = json.loads((tmp_path / "provenance.json").read_text())
    assert record["device"] == "cpu" and record["torch"] == torch.__version__
    assert record["dataset"] == "CIFAR-10 (JPEG-q75 copy)" and record["started"][:4].isdigit()
    assert {"granlib", "git_commit"} <= set(record) and record["dataset_key"] == "imagefolder:/data/cifar10-jpeg/train"


def test_a_slow_status_keeps_the_commit_and_says_the_status_is_unknown(monkeypatch):
    """A fresh checkout's first status can take long on a loaded machine; the commit must not be lost to it."""
    real_run = subprocess.run

    def slow_status(args, **kwargs):
        if "status" in args:
            raise subprocess.TimeoutExpired(args, kwargs.get("timeout"))
        return real_run(args, **kwargs)

    versions.git_commit.cache_clear()
    monkeypatch.setattr(versions.subprocess, "run", slow_status)
    try:
        commit = versions.git_commit()
        assert re.fullmatch(r"[0-9a-f]{40}\+status-unknown", commit)
    finally:
        versions.git_commit.cache_clear()


def test_cpu_model_names_the_processor(monkeypatch):
    model = versions.cpu_model()
    assert model and model == versions.cpu_model()
    monkeypatch.setattr(versions.Path, "read_text", lambda self: (_ for _ in ()).throw(OSError("no /proc")))
    assert versions.cpu_model()  # the platform's name where /proc/cpuinfo cannot be read
