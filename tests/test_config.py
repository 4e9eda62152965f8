import dataclasses
import json

import pytest

from granlib.config import PRESETS, TrainConfig, config_differences, preset


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
