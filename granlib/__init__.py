"""granlib: a reproducible, fast replication of GraN-GAN (Bhaskara et al., WACV 2022).

Start with :class:`granlib.gran.GraN`; train with :func:`granlib.training.train`; evaluate with
:mod:`granlib.evaluation.metrics`. The sub-packages: ``models`` (nets), ``training``, ``evaluation``, ``study`` (what
the notebooks call) and ``bench`` (speed).
"""

__version__ = "0.1.0"

from granlib.gran import GraN  # noqa: E402

__all__ = ["GraN", "__version__"]
