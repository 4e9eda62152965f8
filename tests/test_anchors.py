import math

from granlib.anchors import ANCHORS, MIMICRY, PAPER
from granlib.data import LABELS
from granlib.losses import LOSSES
from granlib.normalizers import NORMALIZERS
from granlib.results import SOURCE, anchor_table


def test_every_anchor_names_a_publication_never_granlib():
    for anchor in ANCHORS:
        assert anchor["source"].startswith((PAPER, MIMICRY)) and anchor["source"] != SOURCE, anchor


def test_anchors_use_the_names_of_granlib_rows():
    """Datasets as granlib labels them (so tables find their anchors), methods and losses as granlib spells them."""
    for anchor in ANCHORS:
        assert anchor["dataset"] in LABELS.values(), anchor
        assert anchor["method"] in NORMALIZERS and anchor["loss"] in LOSSES, anchor
        assert all(math.isfinite(anchor[key]) and anchor[key] > 0 for key in ("fid", "is", "kid") if key in anchor)


def test_each_dataset_table_gets_exactly_its_anchors():
    for dataset in {anchor["dataset"] for anchor in ANCHORS}:
        table = anchor_table(dataset)
        assert len(table) == sum(anchor["dataset"] == dataset for anchor in ANCHORS) and set(table.dataset) == {dataset}
    assert len(anchor_table()) == len(ANCHORS)
    assert anchor_table("synthetic (smoke data, not a result)").empty
