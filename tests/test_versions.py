import re
import subprocess

import torch

from granlib import versions


def test_device_name_on_cpu():
    assert versions.device_name("cpu") == versions.device_name(torch.device("cpu")) == "cpu"


def test_git_commit_names_this_checkout():
    commit = versions.git_commit()
    assert commit is not None and re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", commit)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert commit.startswith(head)


def test_git_commit_without_git(monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(versions.subprocess, "run", no_git)
    assert versions.git_commit() is None
