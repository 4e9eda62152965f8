import dataclasses
import json

import pytest
import torch
from torch import nn

from granlib.normalizers import (
    NORMALIZERS,
    Discriminator,
    NormalizerSpec,
    build_discriminator,
    get_normalizer,
    method_label,
    method_table,
    paper_methods,
    parse_method,
    register_normalizer,
    unregister_normalizer,
)
from granlib.training.config import ConfigError, preset, resolve_config
from granlib.training.loop import train
from granlib.training.run_dir import load_discriminator, saved_config
from tests.conftest import conv_net


def test_the_paper_names_its_gans_from_the_registry():
    assert method_label("gran", "ns") == "GraND-GAN" and method_label("gran", "wasserstein") == "GraNC-GAN"
    assert method_label("sn", "ns") == "SNGAN" and method_label("gp", "wasserstein") == "WGAN-GP"
    assert method_label("equivalent", "hinge") == "GraN's equivalent form, hinge loss"  # no name in the paper
    assert paper_methods() == ["none/ns", "sn/ns", "gp/wasserstein", "wc/wasserstein", "gn/ns", "gran/ns",
                               "gran/wasserstein", "gran_inverse/ns"]  # the comparison of the paper's tables


def test_a_method_string_is_parsed_in_one_place():
    assert parse_method("gran/wasserstein") == ("gran", "wasserstein") and parse_method("sn") == ("sn", "ns")
    with pytest.raises(ValueError, match="unknown normalizer 'grann'"):
        parse_method("grann/ns")
    with pytest.raises(ValueError, match="unknown loss 'lsgan'"):
        parse_method("gran/lsgan")


def test_a_hyperparameter_the_normaliser_does_not_declare_is_refused_naming_it():
    with pytest.raises(TypeError, match=r"normaliser 'wc' takes no hyper-parameter \['clp'\]; it takes \['clip'\]"):
        build_discriminator("wc", conv_net(), clp=0.3)
    with pytest.raises(TypeError, match=r"'none' takes no hyper-parameter \['eps'\]; it takes none"):
        build_discriminator("none", conv_net(), eps=1e-3)  # ε belongs to GraN
    assert type(build_discriminator("none", conv_net())) is Discriminator
    assert build_discriminator("gran", conv_net(), eps=1e-3).gran.eps == 1e-3


def test_a_name_is_registered_once_and_the_same_declaration_again_is_idempotent():
    with pytest.raises(ValueError, match="a different normaliser named 'sn' is already registered"):
        register_normalizer(dataclasses.replace(get_normalizer("sn"), label="another"))
    with pytest.raises(ValueError, match="already registered"):
        register_normalizer(dataclasses.replace(get_normalizer("gran"), build=Discriminator))
    again = dataclasses.replace(get_normalizer("sn"))  # a module imported twice, a notebook cell run again
    assert register_normalizer(again) is again and NORMALIZERS["sn"] is again

    class Redefined(Discriminator):  # the same class defined anew, as a re-run cell does
        pass

    first = NormalizerSpec(name="rerun", label="re-run", build=Redefined, default_K=1.0)
    try:
        register_normalizer(first)

        class Redefined(Discriminator):  # noqa: F811 - the point: a second definition of the same name
            pass

        second = dataclasses.replace(first, build=Redefined)
        assert register_normalizer(second) is second and get_normalizer("rerun").build is Redefined
    finally:
        unregister_normalizer("rerun")
    with pytest.raises(ValueError, match="unknown losses"):
        NormalizerSpec(name="x", label="x", build=Discriminator, default_K=1.0, method_names={"lsgan": "LSGAN"})


class OrthogonalDiscriminator(Discriminator):
    """D = K·f with β·Σ‖WᵀW − I‖²_F over f's weight matrices added to D's loss (orthogonal regularisation)."""

    def __init__(self, net: nn.Module, K: float, ortho_weight: float = 1e-4):  # noqa: N803
        super().__init__(net, K)
        self.ortho_weight = float(ortho_weight)  # β

    def penalty(self, real, fake, alpha=None):
        total = real.new_zeros(())
        for p in self.net.parameters():
            if p.dim() > 1:
                w = p.flatten(1)
                total = total + ((w @ w.T - torch.eye(len(w), dtype=w.dtype)) ** 2).sum()
        return self.ortho_weight * total


@pytest.fixture
def orthogonal():
    """A normaliser declared here alone, through the public API, and removed afterwards."""
    spec = NormalizerSpec(name="ortho", label="orthogonal regularisation", build=OrthogonalDiscriminator,
                          default_K=1.0, hyperparameters={"ortho_weight": 1e-4}, method_names={"ns": "Ortho-GAN"},
                          formula=r"$D = K f$, plus $\beta\sum\lVert W^\top W - I\rVert_F^2$ in D's loss",
                          reference="Brock et al. 2017")
    register_normalizer(spec)
    yield spec
    unregister_normalizer("ortho")


def test_a_normaliser_declared_in_a_test_trains_and_reloads_with_its_own_option(tmp_path, orthogonal):
    config = preset("tiny", normalizer="ortho", normalizer_options={"ortho_weight": 0.5}, iterations=3)
    assert resolve_config(config).normalizer_options == {"ortho_weight": 0.5}
    assert resolve_config(preset("tiny", normalizer="ortho")).normalizer_options == {"ortho_weight": 1e-4}
    train(config, tmp_path, quiet=True)
    assert json.loads((tmp_path / "config.json").read_text())["normalizer_options"] == {"ortho_weight": 0.5}
    disc = load_discriminator(tmp_path)
    assert isinstance(disc, OrthogonalDiscriminator) and disc.ortho_weight == 0.5 and disc.name == "ortho"
    assert saved_config(tmp_path).normalizer == "ortho"
    assert "| `ortho/ns` | **Ortho-GAN** | orthogonal regularisation" in method_table(["ortho/ns"])
    assert "ortho/ns" in paper_methods()


def test_an_option_the_normaliser_does_not_declare_is_refused_by_name(orthogonal):
    with pytest.raises(ConfigError, match="normalizer_options.*'gran' takes no \\['ortho_weight'\\]"):
        resolve_config(preset("tiny", normalizer="gran", normalizer_options={"ortho_weight": 0.5}))


def test_every_declared_hyperparameter_reaches_a_reloaded_discriminator(tmp_path):
    """λ, c and ε as trained, not the declared defaults, in the D that a run directory reloads."""
    for normalizer, field, value, attribute in [("gp", "gp_weight", 3.0, "gp_weight"), ("wc", "clip", 0.2, "clip"),
                                                ("gran", "eps", 1e-2, "eps")]:
        run_dir = tmp_path / normalizer
        train(preset("tiny", normalizer=normalizer, iterations=1, **{field: value}), run_dir, quiet=True)
        disc = load_discriminator(run_dir)
        assert getattr(getattr(disc, "gran", disc), attribute) == value, normalizer


def test_a_normaliser_declared_in_a_test_reaches_a_results_row_a_table_and_the_method_list(orthogonal,
                                                                                            smoke_profile):
    """End to end, with nothing but this file: train on the tiny smoke nets, evaluate into a results row, render
    the notebook's summary table and its method list."""
    from granlib.study.pipeline.experiments import resolve_params, run_and_evaluate
    from granlib.study.pipeline.results import compact_table, load_rows, summary_table, to_html

    params = resolve_params(str(smoke_profile(iterations=2, n_eval=8, n_real=8)), methods=["ortho/ns", "paper"])
    assert "ortho/ns" in paper_methods() and params["methods"] == ["ortho/ns", *paper_methods()[:-1]]  # each once
    run_dir = run_and_evaluate("cifar10", "ortho/ns", 0, params)
    assert run_dir.name == "ortho-ns-K1-ortho_weight0.0001-s0"  # named from the resolved K and option
    rows = load_rows(params["results_dir"])
    assert rows.method.tolist() == ["ortho"] and rows.normalizer_options.tolist() == ['{"ortho_weight": 0.0001}']
    html = to_html(*compact_table(summary_table(rows)))
    assert "Ortho-GAN" in html and "ortho" not in html.replace("Ortho-GAN", "")
    assert "| `ortho/ns` | **Ortho-GAN** |" in method_table(params["methods"])


def test_one_label_names_a_method_with_and_without_its_K():
    assert method_label("gran/ns") == method_label("gran", "ns") == "GraND-GAN"
    assert method_label("gran") == "GraND-GAN"  # a method written without a loss takes the non-saturating one
    assert method_label("gran/ns", K=0.1) == "GraND-GAN, K=0.1"  # K is part of GraN: always shown
    assert method_label("sn", "ns", 1.0) == "SNGAN" and method_label("sn", "ns", 10.0) == "SNGAN, K=10"
    assert method_label("gn/ns", K=float("nan")) == "GN-GAN"  # a row without K shows none
