import pickle

import pytest
import torch

from granlib.training.checkpoint import atomic_save, atomic_write_text, load_checkpoint


def test_atomic_save_roundtrip_and_no_leftovers(tmp_path):
    atomic_save({"w": torch.ones(3), "step": 4}, tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 4
    atomic_write_text("hello\n", tmp_path / "t.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "t.txt"]


def test_failed_save_keeps_the_previous_file(tmp_path):
    atomic_save({"step": 1}, tmp_path / "c.pt")
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a local lambda cannot be pickled
        atomic_save({"bad": lambda: None}, tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]

