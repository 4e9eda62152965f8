"""Training: the config and its resolution, the trainer (one iteration), the loop (``train``), the run
directory with its checkpoint and provenance, the fast path and its CUDA graphs, torchrun, periodic evaluation,
and the command line.

May import the top-level modules (``granlib.gran``, ``normalizers``, ``losses``, ``models``, ``data``) and
``granlib.evaluation``; never ``study`` or ``bench``.
"""

from granlib.training.config import TrainConfig, preset, resolve_config
from granlib.training.loop import train
from granlib.training.run_dir import ConfigMismatchError, load_discriminator, load_ema_generator, run_is_finished
from granlib.training.trainer import Trainer

__all__ = ["TrainConfig", "preset", "resolve_config", "train", "Trainer", "ConfigMismatchError",
           "load_discriminator", "load_ema_generator", "run_is_finished"]
