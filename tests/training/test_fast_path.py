"""On CPU in fp32 the fast path (channels_last, cheap G step) must give the reference path's gradients; the
precision a run trains in is decided once, for the trainer and the run key alike."""

import json

import pytest
import torch

from granlib.normalizers import NORMALIZERS
from granlib.training import fast_path
from granlib.training.config import ConfigError, preset, resolve_config, run_settings
from granlib.training.fast_path import MEASURES, FastPath, cpu_bf16_missing, precision
from granlib.training.loop import train
from granlib.training.trainer import Trainer


def one_iteration_gradients(normalizer: str, fast: bool, fast_path: FastPath | None = None) -> tuple[dict, dict]:
    torch.manual_seed(0)
    config = preset("tiny", normalizer=normalizer, loss="ns", fast=fast, K=1.0 if "gran" in normalizer else None)
    gan = Trainer(config, torch.device("cpu"), fast_path=fast_path)
    gen = torch.Generator().manual_seed(1)
    real = torch.rand(8, 3, 32, 32, generator=gen) * 2 - 1
    z_d, z_g, alpha = torch.randn(8, 16, generator=gen), torch.randn(8, 16, generator=gen), torch.rand(8, generator=gen)
    gan.d_step(real, z_d, gp_alpha=alpha)
    d_grads = {n: p.grad.clone() for n, p in gan.D.named_parameters()}
    gan.g_step(z_g)
    g_grads = {n: p.grad.clone() for n, p in gan.G.named_parameters()}
    return d_grads, g_grads


@pytest.mark.parametrize("normalizer", NORMALIZERS)
def test_fast_path_gradients_equal_reference(normalizer):
    reference, fast = one_iteration_gradients(normalizer, False), one_iteration_gradients(normalizer, True)
    for ref, fst in zip(reference, fast):  # D's gradients, then G's, each as one vector
        assert ref.keys() == fst.keys()
        ref_vector = torch.cat([ref[name].flatten() for name in ref])
        fast_vector = torch.cat([fst[name].flatten() for name in ref])
        assert ref_vector.norm() > 0
        assert (fast_vector - ref_vector).norm() <= 1e-5 * ref_vector.norm()


def test_fast_path_is_default_only_on_cuda():
    assert Trainer(preset("tiny"), torch.device("cpu")).fast is False
    assert Trainer(preset("tiny", fast=True), torch.device("cpu")).fast is True


def test_only_the_fast_cuda_path_uses_fused_adam_and_a_resume_keeps_its_own():
    reference = Trainer(preset("tiny", fast=False), torch.device("cpu"))
    assert reference.fused_adam is False
    assert all(group["fused"] is None for opt in (reference.opt_g, reference.opt_d) for group in opt.param_groups)
    state = reference.training_state()
    for key in ("opt_g", "opt_d"):  # as saved by a fused (fast CUDA) run
        state[key]["param_groups"] = [{**group, "fused": True} for group in state[key]["param_groups"]]
    reference.load_training_state(state)
    assert all(group["fused"] is None for opt in (reference.opt_g, reference.opt_d) for group in opt.param_groups)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fast_cuda_path_uses_fused_adam():
    assert Trainer(preset("tiny"), torch.device("cuda")).fused_adam is True
    assert Trainer(preset("tiny", fast=False), torch.device("cuda")).fused_adam is False


def test_fast_path_measures_switch_off_one_at_a_time():
    assert all(value is False for value in vars(FastPath.off()).values())
    assert all(value is True for value in vars(FastPath()).values())
    for measure in MEASURES:
        without = FastPath().without(measure)
        assert [name for name, on in vars(without).items() if not on] == [measure]
    with pytest.raises(ValueError, match="unknown fast-path measure"):
        FastPath().without("warp_speed")
    with pytest.raises(ValueError, match="reference path"):
        Trainer(preset("tiny", fast=False), torch.device("cpu"), fast_path=FastPath())


def test_ablated_fast_paths_take_only_their_measures_and_keep_the_gradients():
    nhwc = Trainer(preset("tiny", fast=True), torch.device("cpu"))
    nchw = Trainer(preset("tiny", fast=True), torch.device("cpu"), fast_path=FastPath().without("channels_last"))
    conv_weight = lambda gan: next(p for p in gan.D.parameters() if p.dim() == 4)  # noqa: E731
    assert conv_weight(nhwc).is_contiguous(memory_format=torch.channels_last) and not conv_weight(nhwc).is_contiguous()
    assert conv_weight(nchw).is_contiguous()
    reference = one_iteration_gradients("gran", False)
    for measure in ("channels_last", "cheap_generator_step"):
        ablated = one_iteration_gradients("gran", True, FastPath().without(measure))
        for ref, got in zip(reference, ablated):
            ref_vector = torch.cat([ref[name].flatten() for name in ref])
            got_vector = torch.cat([got[name].flatten() for name in ref])
            assert (got_vector - ref_vector).norm() <= 1e-5 * ref_vector.norm()


def test_precision_defaults_to_bf16_on_the_fast_cuda_path_only_and_takes_a_request():
    assert [precision(fast, device) for fast, device in [(True, "cuda"), (False, "cuda"), (True, "cpu"),
                                                         (False, "cpu")]] == ["bf16", "fp32", "fp32", "fp32"]
    assert precision(True, "cuda", "fp32") == "fp32" and precision(True, "cuda", "bf16") == "bf16"
    assert precision(False, "cpu", "bf16") == "fp32"  # bf16 is a measure of the fast path
    assert precision(True, "cpu", "bf16") == ("bf16" if cpu_bf16_missing() is None else "fp32")
    with pytest.raises(ValueError, match="unknown precision"):
        precision(True, "cpu", "fp16")


def test_a_cpu_without_bf16_trains_in_fp32_and_the_run_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(fast_path, "cpu_bf16_missing", lambda: "this CPU has neither AVX-512 BF16 nor AMX")
    config = preset("tiny", fast=True, precision="bf16", iterations=2)
    assert precision(True, "cpu", "bf16") == "fp32" and Trainer(config, torch.device("cpu")).bf16 is False
    assert resolve_config(config).precision == run_settings(resolve_config(config))["precision"] == "fp32"
    train(config, tmp_path, quiet=True)
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert provenance["precision"] == json.loads((tmp_path / "config.json").read_text())["precision"] == "fp32"
    assert "neither AVX-512 BF16 nor AMX" in provenance["precision_note"]
    train(config, tmp_path, quiet=True)  # finished: the same request is the same run


def test_the_trainer_and_the_run_key_take_one_precision():
    for changes in ({}, {"fast": True}, {"fast": True, "precision": "fp32"}, {"fast": True, "precision": "bf16"},
                    {"fast": False, "precision": "fp32"}):
        config = preset("tiny", **changes)
        trainer = Trainer(config, torch.device("cpu"))
        key = run_settings(resolve_config(config))["precision"]
        assert key == resolve_config(config).precision == ("bf16" if trainer.bf16 else "fp32"), changes
    assert run_settings(resolve_config(preset("tiny")))["precision"] == "fp32"  # today's CPU runs keep their key
    with pytest.raises(ConfigError, match="precision"):
        resolve_config(preset("tiny", fast=False, precision="bf16"))
    with pytest.raises(ConfigError, match="precision"):
        resolve_config(preset("tiny", precision="fp16"))
