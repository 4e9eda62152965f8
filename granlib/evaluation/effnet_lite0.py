"""EfficientNet-lite0 folded for inference on a CPU: the proxy extractor's fast path.

:class:`FoldedEffNetLite0` computes what the package's ``EfficientNet.extract_features`` computes in eval mode,
followed by the global average pool, with every BatchNorm folded into the convolution before it once at load
(float64, rounded to float32 once), the 1x1 convolutions as one matrix product on the NHWC view, the "same"
padding inside the convolution wherever it is symmetric, and ReLU6 and the skip connections in place. Features
agree with the package's network to float32 rounding (``tests/evaluation/test_effnet_lite0.py``).

Where the time went, one thread, fp32, 32×32 uint8 images, on the 2-core AMD EPYC machine (2026-12-06, torch
2.14.1, two training processes running on both cores: CPU-time rates, per thread, are the stable ones):

* the package's network, NHWC, a batch of 32 (torch profiler): convolutions 41 %, BatchNorm 33 %, ReLU6 (clamp)
  12 %, the zero padding of the "same" convolutions 11 % (fill 7.7 %, copy 3.5 %), the 224×224 bilinear resize
  1 %. 20–25 images per CPU-second; the wall-clock rate was 6–14 images/s.
* folding BatchNorm, padding in the convolution and ReLU6 in place: 57 images per CPU-second (batches of 2).
  Then at batches below 16 PyTorch sends the 1x1 convolutions to its im2col path (``_slow_conv2d_forward``, with
  NCHW copies); as ``addmm`` on the NHWC view: 62–64 images per CPU-second.
* batch size (activations of one image reach 4.8 MB, 96×112×112 floats): 1, 2 and 4 images per pass 56–64,
  8 images 48, 32 images 36 images per CPU-second.
* scaling the 32×32 images before the resize rather than the 224×224 ones after it, and resizing in NHWC: the
  preprocessing 820 → 3070 images per CPU-second (a few per cent of the total either way).
* not taken: padding the narrow input of a stride-2 block's expansion and zeroing the border after it, instead of
  padding its wide output, measured no faster (59.6–64.0 against 62.3); ``torch.jit.optimize_for_inference``
  1.46× over the package's network after 12 s of tracing and freezing (and deprecated); ``torch.compile`` with
  freezing 1.4× after 96 s of compilation.

Side by side in one process (``python -m granlib.bench.proxy_speed``, ``results/bench/``): 4.10× the images per
second of the package's network at evaluation's batch of 250, 2.22× at a batch of 32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CPU_CHUNK = 2  # images per pass on a CPU: 1–4 keep a block's activations in cache (measured above)


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Weight and bias of ``bn(conv(x))`` in eval mode as one convolution, computed in float64, rounded once."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)  # γ / √(σ² + ε)
    weight = conv.weight.double() * scale.view(-1, 1, 1, 1)
    bias = bn.bias.double() - bn.running_mean.double() * scale  # β − μ γ / √(σ² + ε); the convs have no bias
    return weight.float(), bias.float()


class _Pointwise(nn.Module):
    """A 1x1 convolution (BatchNorm folded) as ``addmm`` on the NHWC view, optionally followed by ReLU6."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, relu6: bool):
        super().__init__()
        weight, bias = fold_batchnorm(conv, bn)
        self.register_buffer("weight_t", weight.flatten(1).T.contiguous())  # [C_in, C_out]
        self.register_buffer("bias", bias)
        self.relu6 = relu6

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        y = torch.addmm(self.bias, x.permute(0, 2, 3, 1).reshape(-1, c), self.weight_t)  # a view when x is NHWC
        if self.relu6:
            y.clamp_(0, 6)
        return y.view(n, h, w, -1).permute(0, 3, 1, 2)  # NHWC memory, NCHW shape


class _Spatial(nn.Module):
    """The stem or a depthwise convolution (BatchNorm folded) with TensorFlow's "same" padding, then ReLU6."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d):
        super().__init__()
        weight, bias = fold_batchnorm(conv, bn)
        self.register_buffer("weight", weight.contiguous(memory_format=torch.channels_last))
        self.register_buffer("bias", bias)
        self.stride, self.groups = tuple(conv.stride), conv.groups
        pad = getattr(conv, "static_padding", None)
        if pad is None:
            raise TypeError("expected the package's Conv2dStaticSamePadding (a network built for one image size)")
        left, right, top, bottom = pad.padding if isinstance(pad, nn.ZeroPad2d) else (0, 0, 0, 0)
        symmetric = left == right and top == bottom
        self.padding = (top, left) if symmetric else (0, 0)  # inside the convolution: no padded copy
        self.explicit_padding = None if symmetric else (left, right, top, bottom)  # stride 2: one more at the end

    def forward(self, x: Tensor) -> Tensor:
        if self.explicit_padding is not None:
            x = F.pad(x, self.explicit_padding)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups).clamp_(0, 6)


class _Block(nn.Module):
    """MBConv without squeeze-and-excitation (the lite models have none): expand, depthwise, project, skip."""

    def __init__(self, block: nn.Module):
        super().__init__()
        args = block._block_args
        if block.has_se or not isinstance(block._swish, nn.ReLU6):
            raise TypeError("expected an EfficientNet-lite block: ReLU6 and no squeeze-and-excitation")
        self.expand = _Pointwise(block._expand_conv, block._bn0, relu6=True) if args.expand_ratio != 1 else None
        self.depthwise = _Spatial(block._depthwise_conv, block._bn1)
        self.project = _Pointwise(block._project_conv, block._bn2, relu6=False)
        # as the package: a skip where shapes agree (drop-connect is the identity in eval mode)
        self.skip = args.id_skip and args.stride == 1 and args.input_filters == args.output_filters

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.depthwise(self.expand(x) if self.expand is not None else x))
        return y.add_(x) if self.skip else y


class FoldedEffNetLite0(nn.Module):
    """``net.extract_features(x).mean((2, 3))`` of a pretrained lite ``EfficientNet`` in eval mode, folded.

    Input: [N, 3, 224, 224] float, scaled as the lite models expect, best in NHWC memory (``channels_last``).
    Output: pooled features [N, 1280].
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        if not isinstance(net._swish, nn.ReLU6):
            raise TypeError("expected an EfficientNet-lite network (ReLU6)")
        self.stem = _Spatial(net._conv_stem, net._bn0)
        self.blocks = nn.Sequential(*(_Block(block) for block in net._blocks))
        self.head = _Pointwise(net._conv_head, net._bn1, relu6=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x))).mean(dim=(2, 3))
