"""The GN-GAN authors' own training step (Wu et al. 2021, github.com/basiclab/GNGAN-PyTorch), for timing beside
granlib's paths.

Their code is fetched into the git-ignored folder ``peers/GNGAN-PyTorch`` (``git clone`` of the repository) and its
modules are imported from there by path; none of it is part of granlib. :class:`GNGANStep` calls their pieces in
the order their ``train.py`` does for ``--arch=dcgan.32 --loss=bce`` (config ``GN-GAN_CIFAR10_CNN.txt``: batches
D 64 / G 128, n_dis 1, Adam 2e-4 (0, 0.9), EMA 0.9999): D step on real and fake in one forward through
``normalize_gradient`` (double backprop), the loss read on the host; G step through ``normalize_gradient`` again
(double backprop, D's parameters frozen by their ``module_no_grad``); their ``ema``; both lr schedules. Eager fp32,
NCHW, PyTorch's default Adam: their code has no mixed precision.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import torch

from granlib.project import REPO_ROOT

PEER_SOURCE = "github:basiclab/GNGAN-PyTorch"
PEER_DIR = REPO_ROOT / "peers" / "GNGAN-PyTorch"
PEER_MODULES = ("models/dcgan.py", "models/gradnorm.py", "losses.py", "utils.py")  # what the step needs


class PeerCodeMissingError(FileNotFoundError):
    """The GN-GAN code is not in the folder named (fetch it there first)."""


def load_module(root: Path, relative: str) -> ModuleType:
    """One of their files as a module of its own name under ``gngan_peer.`` (their folder never goes on sys.path,
    so their ``utils``/``losses``/``datasets`` cannot shadow another package's)."""
    path = root / relative
    if not path.is_file():
        raise PeerCodeMissingError(f"{path} not found: clone {PEER_SOURCE} into {root} to time the GN-GAN code")
    name = "gngan_peer." + relative.removesuffix(".py").replace("/", ".")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peer_commit(root: Path) -> str | None:
    """The commit of the fetched copy (``git rev-parse HEAD``), or None when it is not a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class GNGANStep:
    """Their CNN32 G and D (``Generator32``, ``Discriminator32``), EMA-G, BCE-with-logits loss and Adam; one call of
    :meth:`iteration` is one of their training iterations (n_dis = 1) on a given real batch."""

    def __init__(self, root: Path = PEER_DIR, batch_size_d: int = 64, batch_size_g: int = 128, z_dim: int = 128,
                 lr: float = 2e-4, betas: tuple[float, float] = (0.0, 0.9), ema_decay: float = 0.9999):
        dcgan, gradnorm, losses, utils = (load_module(Path(root), relative) for relative in PEER_MODULES)
        self.normalize_gradient, self.ema, self.module_no_grad = (gradnorm.normalize_gradient, utils.ema,
                                                                  utils.module_no_grad)
        self.net_G, self.ema_G, self.net_D = dcgan.Generator32(z_dim), dcgan.Generator32(z_dim), dcgan.Discriminator32()
        self.ema(self.net_G, self.ema_G, decay=0)
        self.loss_fn = losses.BCEWithLogits()
        self.optim_G = torch.optim.Adam(self.net_G.parameters(), lr=lr, betas=betas)
        self.optim_D = torch.optim.Adam(self.net_D.parameters(), lr=lr, betas=betas)
        # their lr schedule, 1 − max(step − lr_decay_start, 0)/period, is 1 throughout: lr_decay_start = total_steps
        self.sched_G = torch.optim.lr_scheduler.LambdaLR(self.optim_G, lambda step: 1.0)
        self.sched_D = torch.optim.lr_scheduler.LambdaLR(self.optim_D, lambda step: 1.0)
        self.batch_size_d, self.batch_size_g, self.z_dim, self.ema_decay = batch_size_d, batch_size_g, z_dim, ema_decay

    def iteration(self, x_real: torch.Tensor) -> float:
        """One D step and one G step as their ``train()`` takes them; returns the D loss they log."""
        y_real = torch.zeros(len(x_real), dtype=torch.long)  # unconditional: n_classes = 1
        self.optim_D.zero_grad()
        with torch.no_grad():
            z = torch.randn(self.batch_size_d, self.z_dim)
            y_fake = torch.randint(1, (self.batch_size_d,))
            x_fake = self.net_G(z, y_fake).detach()
        pred = self.normalize_gradient(self.net_D, torch.cat([x_real, x_fake]), y=torch.cat([y_real, y_fake]))
        pred_real, pred_fake = torch.split(pred, [len(x_real), len(x_fake)])
        loss, loss_real, loss_fake = self.loss_fn(pred_real, pred_fake)
        loss.backward()  # cr = 0 in this config: their loss_all is the loss
        self.optim_D.step()
        logged = [value.cpu().item() for value in (loss, loss_real, loss_fake)]  # their per-D-step host reads
        with self.module_no_grad(self.net_D):
            self.optim_G.zero_grad()
            z = torch.randn(self.batch_size_g, self.z_dim)
            y = torch.randint(1, (self.batch_size_g,))
            pred_fake = self.normalize_gradient(self.net_D, self.net_G(z, y), y=y)
            self.loss_fn(pred_fake).backward()
            self.optim_G.step()
        self.ema(self.net_G, self.ema_G, self.ema_decay)
        self.sched_G.step()
        self.sched_D.step()
        return logged[0]
