"""CUDA-graph capture of one whole training iteration (n_dis D steps, the G step, EMA).

At CIFAR sizes a GAN iteration is thousands of small kernels (GraN's double backprop roughly doubles them), so
the GPU waits on Python launching them. A CUDA graph records the kernels of one iteration once; each later
iteration is one replay. :class:`GraphedIteration` is a drop-in for ``Trainer.iteration``:

1. the first ``warmup`` calls run eagerly on a side stream. They are real training iterations; they create
   Adam's state, let cuDNN choose its algorithms and allocate workspaces, all of which must exist before capture;
2. the next call captures ``Trainer.captured_updates`` reading fixed input buffers. Adam runs in capturable mode
   with its lr held in a device tensor;
3. every call copies its inputs into those buffers and replays; the lr schedules then step on the host and
   write into the lr tensors that the recorded Adam kernels read.

Capture needs what the fast path already guarantees: static shapes, no host synchronisation inside the iteration
(statistics stay on the device), and autocast without its weight-cast cache. The EMA's "copy until ema_start"
branch is decided in Python, so capture waits until ``step >= ema_start``.

Graphs are not used (the iteration stays eager, ``fallback_reason`` says why) off CUDA, on the reference path,
under DDP, or when ``enabled=False``; an exception during capture also falls back to eager, with a warning.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

Inputs = tuple[list[Tensor], list[Tensor], Tensor, "list[Tensor] | None"]


class GraphedIteration:
    """``Trainer.iteration`` replayed from one CUDA graph where possible, eager otherwise (same signature)."""

    def __init__(self, trainer, enabled: bool = True, warmup: int = 3):
        self.trainer = trainer
        self.warmup = warmup  # eager iterations on a side stream before capture
        self.graph: torch.cuda.CUDAGraph | None = None
        self.fallback_reason: str | None = self._refusal(enabled)
        self.eager_calls = 0
        self._inputs: Inputs | None = None
        self._outputs: dict[str, Tensor] = {}
        self._lr_tensors: list[tuple[dict, Tensor]] = []
        self._side_stream: torch.cuda.Stream | None = None

    @property
    def active(self) -> bool:
        """True once the iteration is replayed from a graph."""
        return self.graph is not None

    def _refusal(self, enabled: bool) -> str | None:
        trainer = self.trainer
        if not enabled:
            return "disabled (cuda_graph=False)"
        if trainer.device.type != "cuda":
            return f"not a CUDA device ({trainer.device.type})"
        if not trainer.fast:
            return "reference path (fast=False)"
        if trainer.world_size > 1 or trainer.D_forward is not trainer.D or trainer.G_forward is not trainer.G:
            return "several processes (DDP): eager"
        return None

    def __call__(self, step: int, reals: list[Tensor], d_noises: list[Tensor], g_noise: Tensor,
                 gp_alphas: list[Tensor] | None = None) -> dict[str, Tensor]:
        inputs: Inputs = (reals, d_noises, g_noise, gp_alphas)
        if self.graph is None and self.fallback_reason is None:
            if self.eager_calls < self.warmup or step < self.trainer.config.ema_start:
                self.eager_calls += 1
                return self._on_side_stream(step, inputs)
            self._capture(step, inputs)
        if self.graph is None:
            return self.trainer.iteration(step, *inputs)
        self._load(inputs)
        self.graph.replay()
        self.trainer.advance_schedules()
        self._refresh_lr_tensors()
        return {key: value.clone() for key, value in self._outputs.items()}  # the graph's own outputs are reused

    def _on_side_stream(self, step: int, inputs: Inputs) -> dict[str, Tensor]:
        main = torch.cuda.current_stream(self.trainer.device)
        self._side_stream = self._side_stream or torch.cuda.Stream(self.trainer.device)
        self._side_stream.wait_stream(main)
        with torch.cuda.stream(self._side_stream):
            stats = self.trainer.iteration(step, *inputs)
        main.wait_stream(self._side_stream)
        return stats

    def _capture(self, step: int, inputs: Inputs) -> None:
        reals, d_noises, g_noise, gp_alphas = inputs
        self._inputs = ([t.clone() for t in reals], [t.clone() for t in d_noises], g_noise.clone(),
                        None if gp_alphas is None else [t.clone() for t in gp_alphas])
        self._use_lr_tensors()
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize(self.trainer.device)
        stream = torch.cuda.current_stream(self.trainer.device)
        try:
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):  # loader threads may use CUDA
                outputs = self.trainer.captured_updates(step, *self._inputs)
        except Exception as error:  # anything un-capturable: eager for the rest of the run
            torch.cuda.set_stream(stream)  # a failed capture_end can leave the capture stream current
            torch.cuda.synchronize(self.trainer.device)
            self._use_float_lrs()
            self._inputs = None
            self.fallback_reason = f"capture failed ({type(error).__name__}: {error})"
            warnings.warn(f"CUDA graph capture failed, training eagerly: {self.fallback_reason}", stacklevel=3)
            return
        self.graph, self._outputs = graph, outputs

    def _load(self, inputs: Inputs) -> None:
        static = [*self._inputs[0], *self._inputs[1], self._inputs[2], *(self._inputs[3] or [])]
        given = [*inputs[0], *inputs[1], inputs[2], *(inputs[3] or [])]
        if (inputs[3] is None) != (self._inputs[3] is None) or [t.shape for t in static] != [t.shape for t in given]:
            raise ValueError("a captured iteration needs inputs of the shapes it was captured with")
        for buffer, value in zip(static, given):
            buffer.copy_(value)

    def _optimizer_groups(self) -> list[dict]:
        return [group for opt in (self.trainer.opt_d, self.trainer.opt_g) for group in opt.param_groups]

    def _use_lr_tensors(self) -> None:
        self._lr_tensors = []
        for group in self._optimizer_groups():
            # float32: what the fused Adam kernel reads; the schedule writes into it in place after each replay
            group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float32, device=self.trainer.device)
            group["capturable"] = True
            self._lr_tensors.append((group, group["lr"]))

    def _use_float_lrs(self) -> None:
        for group, tensor in self._lr_tensors:
            group["lr"], group["capturable"] = float(tensor), False
        self._lr_tensors = []

    def _refresh_lr_tensors(self) -> None:
        """Schedulers that assign a new float (instead of filling the tensor) are redirected into the tensor."""
        for group, tensor in self._lr_tensors:
            if group["lr"] is not tensor:
                tensor.fill_(float(group["lr"]))
                group["lr"] = tensor
