"""Instruments: what the studies measure with. The 2-D toy problems (ReLU nets and their linear regions, the
Gaussian mixtures with exact sample-quality metrics), the one trainer of a 2-D GAN (:mod:`.gan2d`) with its two
uses (the ring GAN of notebook 01 and the mixtures study), the gradient-penalty toy, the Lipschitz measurements of
any function, the measurements of a trained discriminator (P1-P3, C3), and the named seed streams of a study run.

May import the top-level modules, ``models``, ``training`` and ``evaluation``; never ``study.pipeline``,
``study.ledger`` or ``bench``: instruments measure, they neither plan runs nor judge claims.
"""
