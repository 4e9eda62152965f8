"""Evaluation: feature extractors (FID Inception, the offline EffNet-Lite0 proxy), streaming feature
statistics, cached statistics of real images, and FID/FD, IS and KID.

The modules take images, features, statistics and paths; none knows about training configs or run directories.
They may import the top-level modules of granlib (``granlib.data``), never ``training``, ``study`` or ``bench``.
"""
