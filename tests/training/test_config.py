import dataclasses
import json

import pytest

from granlib.training.config import (
    PRESETS,
    ConfigError,
    TrainConfig,
    config_differences,
    preset,
    resolve_config,
    upgrade_saved_config,
    validate_config,
)


def test_presets_follow_their_protocols():
    assert set(PRESETS) >= {"mimicry_resnet", "gngan_cnn", "tiny"}
    mimicry = preset("mimicry_resnet")
    assert (mimicry.architecture, mimicry.n_dis, mimicry.iterations, mimicry.batch_size_d) == ("resnet", 5, 100_000, 64)
    assert mimicry.betas_d == (0.0, 0.9) and mimicry.lr_decay == "linear"
    gngan = preset("gngan_cnn")
    assert (gngan.architecture, gngan.n_dis, gngan.batch_size_d, gngan.batch_size_g) == ("cnn", 1, 64, 128)
    assert preset("gngan_cnn", K=0.1).K == 0.1  # overrides apply on top of the preset
    with pytest.raises(ValueError, match="unknown preset 'sngan'; choose one of"):
        preset("sngan")


def test_yaml_and_json_files(tmp_path):
    (tmp_path / "c.yaml").write_text("preset: gngan_cnn\nK: 0.1\nnormalizer: gran\nbetas_g: [0.5, 0.999]\n")
    assert TrainConfig.load(tmp_path / "c.yaml") == preset("gngan_cnn", K=0.1, normalizer="gran", betas_g=(0.5, 0.999))
    (tmp_path / "empty.yml").write_text("")
    assert TrainConfig.load(tmp_path / "empty.yml") == TrainConfig()
    config = preset("tiny", seed=3)
    (tmp_path / "c.json").write_text(json.dumps(config.to_dict()))  # what a run directory's config.json holds
    assert TrainConfig.load(tmp_path / "c.json") == config


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError, match=r"unknown config fields: \['lr'\]"):
        TrainConfig.from_dict({"lr": 1})
    with pytest.raises(ValueError, match="unknown config fields"):
        preset("tiny", learning_rate=1e-3)


def test_every_field_round_trips_through_json():
    config = TrainConfig()
    assert {f.name for f in dataclasses.fields(config)} == set(config.to_dict())
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config  # tuples come back as tuples


def test_differences_list_changed_fields_and_treat_lists_as_tuples():
    old = TrainConfig().to_dict()
    new = TrainConfig(K=0.1, lr_g=1e-4).to_dict()
    assert config_differences(old, new) == ["K: None -> 0.1", "lr_g: 0.0002 -> 0.0001"]
    assert config_differences(old, json.loads(json.dumps(old))) == []  # JSON turns (0.0, 0.9) into [0.0, 0.9]
    assert config_differences({"a": 1}, {}) == ["a: 1 -> None"]


def test_resolve_config_fills_every_open_default_from_its_one_source():
    from granlib.gran import DEFAULT_EPS
    from granlib.models import published_widths
    from granlib.normalizers import default_K

    cnn = resolve_config(TrainConfig(normalizer="gran", device="cpu"))
    assert (cnn.K, cnn.eps, cnn.fast, cnn.device) == (default_K("gran"), DEFAULT_EPS, False, "cpu")
    assert (cnn.ngf, cnn.ndf) == published_widths("cnn", 32) and cnn.resnet_upsample is None
    assert (cnn.cnn_variant, cnn.init) == ("reference_code", "normal_0.02")
    resnet = resolve_config(preset("mimicry_resnet", normalizer="gn", device="cpu"))
    assert (resnet.K, resnet.cnn_variant, resnet.init, resnet.resnet_upsample) == (1.0, None, "xavier_sngan",
                                                                                    "bilinear")
    assert resolve_config(cnn) == cnn  # idempotent: a resolved config is its own resolution
    assert resolve_config(TrainConfig(K=0.5, eps=1e-3, device="cpu")).K == 0.5  # explicit values are kept


IMPOSSIBLE = [({"architecture": "cnn", "resnet_upsample": "nearest"}, "resnet_upsample"),
              ({"architecture": "resnet", "cnn_variant": "paper_table"}, "cnn_variant"),
              ({"architecture": "cnn", "init": "xavier_sngan"}, "init"), ({"ema_decay": 1.0}, "ema_decay"),
              ({"betas_d": (0.5, 1.2)}, "betas_d"), ({"lr_g": 0}, "lr_g"), ({"loss": "wgan"}, "loss")]


@pytest.mark.parametrize(("changes", "field"), IMPOSSIBLE)
def test_impossible_values_are_refused_by_name(changes, field):
    with pytest.raises(ConfigError, match=field):
        validate_config(TrainConfig(**changes))


def test_values_are_read_as_the_field_types():
    config = TrainConfig.from_dict({"lr_d": "2e-4", "gp_weight": "1e1", "iterations": "1e3", "fast": True,
                                    "betas_g": ["0", "0.9"]})
    assert (config.lr_d, config.gp_weight, config.iterations, config.betas_g) == (2e-4, 10.0, 1000, (0.0, 0.9))
    for bad in ({"iterations": 2.5}, {"lr_d": "fast"}, {"fast": "yes"}, {"n_dis": True}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TrainConfig.from_dict(bad)


def test_a_config_saved_before_precision_existed_reads_as_what_it_trained_in():
    def saved(**values):  # as config.json was written then: resolved, without the field
        return {key: value for key, value in {**resolve_config(TrainConfig(device="cpu")).to_dict(), **values}.items()
                if key != "precision"}

    assert upgrade_saved_config(saved(fast=False))["precision"] == "fp32"
    assert upgrade_saved_config(saved(fast=True))["precision"] == "fp32"  # the CPU fast path had no bf16
    assert upgrade_saved_config(saved(device="cuda", fast=True))["precision"] == "bf16"
    assert upgrade_saved_config(saved(device="cuda:1", fast=True))["precision"] == "bf16"
    assert upgrade_saved_config(saved(device="cuda", fast=False))["precision"] == "fp32"
    written = {**saved(fast=True), "precision": "bf16"}  # a saved value is never replaced
    assert upgrade_saved_config(written)["precision"] == "bf16"


def test_a_config_may_set_only_its_normalisers_own_hyperparameters():
    with pytest.raises(ConfigError, match=r"config field eps: normaliser 'sn' takes no eps"):
        resolve_config(TrainConfig(normalizer="sn", eps=1e-3))
    with pytest.raises(ConfigError, match=r"config field gp_weight: normaliser 'gran' takes no gp_weight"):
        resolve_config(TrainConfig(normalizer="gran", gp_weight=1.0))
    assert resolve_config(TrainConfig(normalizer="gran", eps=1e-3)).eps == 1e-3
    resolved = resolve_config(TrainConfig(normalizer="sn"))
    assert resolved.eps is None and resolve_config(resolved) == resolved  # resolving twice changes nothing


def test_a_saved_config_of_a_normaliser_without_eps_loads_without_it():
    """Configs written when every method carried ε (and λ, c) load as this version spells them."""
    saved = {**resolve_config(TrainConfig(normalizer="sn")).to_dict(), "eps": 1e-4, "clip": 0.01}
    upgraded = upgrade_saved_config(saved)
    assert upgraded["eps"] is None and upgraded["clip"] == TrainConfig().clip
    gran = {**resolve_config(TrainConfig(normalizer="gran")).to_dict(), "eps": 1e-6}
    assert upgrade_saved_config(gran)["eps"] == 1e-6  # GraN's own ε is kept
