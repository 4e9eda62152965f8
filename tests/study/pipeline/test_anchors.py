import math

import pytest

from granlib.data import LABELS
from granlib.losses import LOSSES
from granlib.models import CNN_VARIANTS
from granlib.normalizers import NORMALIZERS
from granlib.study.pipeline.anchors import (
    ANCHOR_KEYS,
    ANCHORS,
    MIMICRY,
    NOT_STATED,
    PAPER_FIG1,
    PYTORCH_GAN_COLLECTIONS,
    like_for_like,
    protocol,
)
from granlib.study.pipeline.results import (
    MISSING,
    SOURCE,
    anchor_table,
    append_row,
    caveats,
    compact_table,
    load_rows,
    render_dataset,
    summary_table,
    unattributed_anchors,
)
from tests.study.pipeline.test_results import row


def test_every_anchor_names_a_publication_never_granlib():
    for anchor in ANCHORS:
        assert anchor["source"] in (PAPER_FIG1, MIMICRY, PYTORCH_GAN_COLLECTIONS) and anchor["source"] != SOURCE, anchor


def test_every_anchor_carries_every_protocol_field():
    """The same keys on every row (None where the source does not state the field), values of the right kind."""
    for anchor in ANCHORS:
        assert tuple(anchor) == ANCHOR_KEYS, anchor
        assert anchor["metric"] == "FID" and anchor["architecture"] in ("cnn", "resnet", None)
        assert anchor["cnn_variant"] in (*CNN_VARIANTS, None)
        assert anchor["cnn_variant"] is None or anchor["architecture"] == "cnn"
        assert anchor["reference_split"] in ("train", "test", "unlabeled", "all", None)
        for key in ("resolution", "iterations", "n_fake", "n_real"):
            assert anchor[key] is None or (isinstance(anchor[key], int) and anchor[key] > 0), (key, anchor)


def test_anchors_use_the_names_of_granlib_rows():
    """Dataset keys as granlib's rows carry them (tables join on them), methods and losses as granlib spells them;
    a source that names no dataset gets no key and no protocol."""
    for anchor in ANCHORS:
        if anchor["source"] == PAPER_FIG1:
            assert anchor["dataset_key"] is None, anchor
            assert all(anchor[k] is None for k in ("resolution", "architecture", "cnn_variant", "iterations",
                                                   "n_fake", "n_real", "reference_split")), anchor
        else:
            assert LABELS[anchor["dataset_key"]] == anchor["dataset"], anchor
        assert anchor["method"] in NORMALIZERS and anchor["loss"] in LOSSES, anchor
        assert all(math.isfinite(anchor[key]) and anchor[key] > 0 for key in ("fid", "is", "kid")
                   if anchor[key] is not None)


def test_pytorch_gan_collections_rows_state_what_its_readme_and_configs_state():
    """CIFAR-10 at 32×32, 100k generator steps, 50k generated against the training set's statistics (the number
    of real images is not stated); SNGAN trained with the hinge loss; the CNN is the reference-code net."""
    rows = [a for a in ANCHORS if a["source"] == PYTORCH_GAN_COLLECTIONS]
    assert {(a["architecture"], a["method"], a["loss"]) for a in rows} == {
        ("cnn", "sn", "hinge"), ("cnn", "gp", "wasserstein"), ("cnn", "wc", "wasserstein"),
        ("resnet", "sn", "hinge"), ("resnet", "gp", "wasserstein")}
    for a in rows:
        assert (a["dataset_key"], a["resolution"], a["iterations"], a["n_fake"], a["n_real"], a["reference_split"]) \
            == ("cifar10", 32, 100_000, 50_000, None, "train"), a
        assert a["cnn_variant"] == ("reference_code" if a["architecture"] == "cnn" else None), a
    assert all(a["architecture"] == "resnet" and a["iterations"] == 100_000 and a["n_fake"] == a["n_real"] == 50_000
               for a in ANCHORS if a["source"] == MIMICRY)


def test_each_dataset_table_gets_exactly_its_anchors():
    for key in {anchor["dataset_key"] for anchor in ANCHORS} - {None}:
        table = anchor_table(key)
        assert len(table) == sum(anchor["dataset_key"] == key for anchor in ANCHORS) and set(table.dataset_key) == {key}
        assert set(ANCHOR_KEYS) <= set(table.columns)
    assert len(anchor_table()) == len(ANCHORS)
    assert anchor_table("synthetic").empty
    assert not any(anchor_table(key).source.eq(PAPER_FIG1).any() for key in LABELS)  # never attached by guess


def test_the_join_needs_dataset_resolution_network_method_and_loss():
    cnn = like_for_like("cifar10", 32, "cnn", "sn", "hinge")
    assert [(a["source"], a["fid"]) for a in cnn] == [(PYTORCH_GAN_COLLECTIONS, 17.81)]
    assert {a["source"] for a in like_for_like("cifar10", 32, "resnet", "sn", "hinge")} == {
        PYTORCH_GAN_COLLECTIONS, MIMICRY}
    assert like_for_like("cifar10", 32, "cnn", "sn", "ns") == []  # SNGAN with the non-saturating loss: unpublished
    assert like_for_like("stl10", 32, "resnet", "sn", "hinge") == []  # Mimicry's STL-10 is 48×48
    assert like_for_like("cifar10", 32, "cnn", "sn", "hinge", cnn_variant="paper_table") == []
    assert like_for_like(None, None, None, "gran", "ns") == []  # the Fig. 1 numbers join nothing
    assert like_for_like(float("nan"), 32, "cnn", "gran", "ns") == []


@pytest.fixture
def cifar(tmp_path):
    """A CNN and a ResNet table of CIFAR-10: SNGAN (hinge) and WGAN-GP under each network."""
    for architecture in ("cnn", "resnet"):
        for method, loss in (("sn", "hinge"), ("gp", "wasserstein")):
            variant = "reference_code" if architecture == "cnn" else None
            append_row(tmp_path / "rows" / "c.jsonl", row(architecture=architecture, method=method, loss=loss, K=None,
                                                          cnn_variant=variant, run_dir=f"runs/{architecture}-{method}"))
    summary = summary_table(load_rows(tmp_path))
    return {architecture: summary[summary.architecture == architecture] for architecture in ("cnn", "resnet")}


def published(table):
    return table[[c for c in table.columns if c.startswith("published FID")]]


def test_a_cnn_row_gets_the_cnn_anchor_and_never_a_resnet_number(cifar):
    table, _, caption = compact_table(cifar["cnn"])
    values = dict(zip(table.method, published(table).values.tolist()))
    assert values == {"SNGAN (hinge)": ["17.81"], "WGAN-GP": ["19.83"]}
    resnet_numbers = {f"{a['fid']:g}" for a in ANCHORS if a["architecture"] == "resnet"}
    assert not resnet_numbers & {cell for cells in table.values.tolist() for cell in cells}
    (heading,) = published(table).columns  # the heading names the protocol
    for part in ("pytorch-gan-collections", "100k iterations", "50k generated", "training-set statistics",
                 f"n real {NOT_STATED}"):
        assert part in heading and part in caption, part
    assert PYTORCH_GAN_COLLECTIONS in caption


def test_a_resnet_row_gets_each_resnet_anchor_in_its_own_column(cifar):
    table, _, caption = compact_table(cifar["resnet"])
    columns = published(table)
    assert len(columns.columns) == 2
    mimicry = [c for c in columns.columns if "Mimicry" in c][0]
    assert "50k generated vs 50k real" in mimicry and "100k iterations" in mimicry
    assert dict(zip(table.method, table[mimicry])) == {"SNGAN (hinge)": "16.77", "WGAN-GP": "22.29"}
    assert MIMICRY in caption and PYTORCH_GAN_COLLECTIONS in caption
    assert not {"17.81", "19.83", "40.03"} & set(columns.values.ravel())


def test_a_row_without_a_like_for_like_anchor_shows_a_dash(tmp_path):
    append_row(tmp_path / "rows" / "c.jsonl", row(method="gp", loss="wasserstein", dataset_key="stl10",
                                                  dataset="STL-10", resolution=48))  # Mimicry's STL-10 is a ResNet
    append_row(tmp_path / "rows" / "c.jsonl", row(method="sn", loss="hinge", cnn_variant="paper_table",
                                                  run_dir="runs/b"))
    summary = summary_table(load_rows(tmp_path))
    for key in ("stl10", "cifar10"):
        table, _, caption = compact_table(summary[summary.dataset_key == key])
        assert published(table).values.ravel().tolist() == [MISSING] and "no source has a number" in caption
    notes = caveats(summary[summary.dataset_key == "cifar10"])
    assert any("reference_code" in n and "paper_table" in n for n in notes)  # why the CNN number is left out


def test_another_protocol_beside_a_published_number_is_a_caveat(tmp_path):
    append_row(tmp_path / "rows" / "c.jsonl", row(method="sn", loss="hinge", cnn_variant="reference_code",
                                                  iterations=2000, n_fake=1000, n_real=1000))
    notes = caveats(summary_table(load_rows(tmp_path)))
    assert any("2 000 iterations, 1 000 generated vs 1 000 real" in n and "not comparable" in n for n in notes)
    assert not any("not the original data" in n for n in notes)  # CIFAR-10 itself, not a copy


def test_the_published_anchors_section_lists_each_protocol(cifar):
    md, html = render_dataset(cifar["cnn"])
    section = md.split("## Published anchors")[1]
    for text in ("reference", "n generated", "n real", "iterations", "network", "standard CNN (reference_code)",
                 "training-set statistics", NOT_STATED, "ResNet", "Mimicry", "pytorch-gan-collections"):
        assert text in section, text
    assert section.count("\n|") == 2 + len(anchor_table("cifar10"))  # header, rule, one line per anchor
    assert "Published anchors for CIFAR-10" in html and NOT_STATED in html


def test_fig1_numbers_stand_alone_with_nothing_of_their_protocol_stated():
    fig1 = unattributed_anchors()
    assert list(fig1.method) == ["WGAN-GP", "SNGAN", "GraND-GAN"] and set(fig1.IS) == {MISSING}
    protocol_columns = ["resolution", "network", "iterations", "n generated", "n real", "reference"]
    assert set(fig1[protocol_columns].values.ravel()) == {NOT_STATED}
    assert all(protocol(a).startswith("GraN-GAN paper, Fig. 1, iterations not stated") for a in ANCHORS
               if a["source"] == PAPER_FIG1)
