"""The measures of the fast training path, each one switchable on its own (for the benchmark's ablation).

``fast=True`` (the default on CUDA) turns all of them on; ``fast=False`` (the reference) turns all of them off.
CUDA-graph capture of the whole iteration is the config's ``cuda_graph`` field (:mod:`granlib.training.graphs`), since a
user may need to turn it off alone; these measures are not user settings, so they live here rather than in
:class:`granlib.training.config.TrainConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class FastPath:
    """Which measures a :class:`granlib.training.Trainer` takes; those marked CUDA do nothing on other devices."""

    channels_last: bool = True  # NHWC weights and activations (cuDNN's preferred layout for bf16)
    bf16_autocast: bool = True  # CUDA: bf16 matmuls/convolutions; ‖∇f‖ and g's normalisation stay float32
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


def precision(fast: bool, device_type: str) -> str:
    """The arithmetic a run trains in: "bf16" (autocast; ‖∇f‖, g's division and the GP norm in float32) on the fast
    CUDA path, "fp32" everywhere else; the one place this is decided, for the trainer and for a run's key alike."""
    return "bf16" if fast and FastPath().bf16_autocast and device_type == "cuda" else "fp32"
