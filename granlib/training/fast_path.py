"""The measures of the fast training path, each one switchable on its own (for the benchmark's ablation).

``fast=True`` (the default on CUDA) turns all of them on; ``fast=False`` (the reference) turns all of them off.
Whether the fast path's bf16 autocast applies is the run's precision, decided in one place, :func:`precision`: bf16 by
default on CUDA, on a CPU only when a config asks for it (``precision: bf16``) and the CPU has bf16 arithmetic.
CUDA-graph capture of the whole iteration is the config's ``cuda_graph`` field (:mod:`granlib.training.graphs`), since a
user may need to turn it off alone; these measures are not user settings, so they live here rather than in
:class:`granlib.training.config.TrainConfig`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace

import torch


@dataclass(frozen=True)
class FastPath:
    """Which measures a :class:`granlib.training.Trainer` takes; those marked CUDA do nothing on other devices."""

    channels_last: bool = True  # NHWC weights and activations (cuDNN's preferred layout for bf16)
    bf16_autocast: bool = True  # bf16 matmuls/convolutions where the run's precision is bf16 (:func:`precision`);
    # ‖∇f‖, g's normalisation and the GP norm stay float32 (granlib.gran)
    cheap_generator_step: bool = True  # G step holds ‖∇f‖ constant: exact a.e., no double backprop (granlib.gran)
    fused_adam: bool = True  # CUDA: one fused kernel per optimiser step instead of PyTorch's default Adam
    cudnn_benchmark: bool = True  # CUDA: cuDNN times its algorithms once (static shapes)

    @classmethod
    def off(cls) -> FastPath:
        """The reference: every measure off."""
        return cls(**{field.name: False for field in fields(cls)})

    def without(self, measure: str) -> FastPath:
        """These measures with ``measure`` switched off."""
        if measure not in MEASURES:
            raise ValueError(f"unknown fast-path measure {measure!r}; choose one of {MEASURES}")
        return replace(self, **{measure: False})


MEASURES = tuple(field.name for field in fields(FastPath))


PRECISIONS = ("fp32", "bf16")  # the arithmetic a run can train in (the config field ``precision``)


@functools.cache
def cpu_bf16_missing() -> str | None:
    """Why this CPU cannot train in bf16, or None when it can: the CPU path takes bf16 only with native bf16 dot
    products (AVX-512 BF16 or AMX), the instructions its measured speed-up rests on (results/bench/README.md);
    elsewhere bf16 would be converted around fp32 arithmetic. Asked once per process."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if not any(probes):
        return f"torch {torch.__version__} cannot tell whether this CPU has bf16 instructions"
    return None if any(probe() for probe in probes if probe) else "this CPU has neither AVX-512 BF16 nor AMX"


def precision(fast: bool, device_type: str, requested: str | None = None) -> str:
    """The arithmetic a run trains in: the one place this is decided, for the trainer and for a run's key alike.

    ``requested`` is the config's ``precision``. None keeps the default: "bf16" (autocast; ‖∇f‖, g's division and
    the GP norm in float32) on the fast CUDA path, "fp32" everywhere else. "bf16" is a measure of the fast path: on
    CUDA it is taken, on a CPU where :func:`cpu_bf16_missing` finds the instructions (else the run trains in
    "fp32", and :func:`precision_note` says why). "fp32" is always taken.
    """
    if requested not in (None, *PRECISIONS):
        raise ValueError(f"unknown precision {requested!r}; choose one of {PRECISIONS}")
    if requested is None:
        return "bf16" if fast and FastPath().bf16_autocast and device_type == "cuda" else "fp32"
    if requested == "bf16" and fast and (device_type == "cuda" or device_type == "cpu" and not cpu_bf16_missing()):
        return "bf16"
    return "fp32"


def precision_note(fast: bool, device_type: str, requested: str | None) -> str | None:
    """Why a run trains in fp32 although ``requested`` is "bf16" (for its provenance), or None when it was not."""
    if requested != "bf16" or not fast or precision(fast, device_type, requested) == "bf16":
        return None  # the reference path with bf16 is refused by the config's checks, never trained
    if device_type == "cpu":
        return f"bf16 was asked for, but {cpu_bf16_missing()}: the run trains in fp32"
    return f"bf16 autocast is not built for device type {device_type!r}: the run trains in fp32"
