import math

from granlib.data import LABELS
from granlib.losses import LOSSES
from granlib.normalizers import NORMALIZERS
from granlib.study.anchors import ANCHORS, MIMICRY, PAPER_FIG1
from granlib.study.results import SOURCE, anchor_table


def test_every_anchor_names_a_publication_never_granlib():
    for anchor in ANCHORS:
        assert anchor["source"].startswith((PAPER_FIG1, MIMICRY)) and anchor["source"] != SOURCE, anchor


def test_anchors_use_the_names_of_granlib_rows():
    """Dataset keys as granlib's rows carry them (tables join on them), methods and losses as granlib spells them;
    a source that names no dataset gets no key."""
    for anchor in ANCHORS:
        if anchor["source"] == PAPER_FIG1:
            assert anchor["dataset_key"] is None, anchor
        else:
            assert LABELS[anchor["dataset_key"]] == anchor["dataset"], anchor
        assert anchor["method"] in NORMALIZERS and anchor["loss"] in LOSSES, anchor
        assert all(math.isfinite(anchor[key]) and anchor[key] > 0 for key in ("fid", "is", "kid") if key in anchor)


def test_each_dataset_table_gets_exactly_its_anchors():
    for key in {anchor["dataset_key"] for anchor in ANCHORS} - {None}:
        table = anchor_table(key)
        assert len(table) == sum(anchor["dataset_key"] == key for anchor in ANCHORS) and set(table.dataset_key) == {key}
    assert len(anchor_table()) == len(ANCHORS)
    assert anchor_table("synthetic").empty
    assert not any(anchor_table(key).source.eq(PAPER_FIG1).any() for key in LABELS)  # never attached by guess
