import torch

from granlib.gran import DEFAULT_EPS
from granlib.training.config import preset
from granlib.training.trainer import Trainer, accumulate


def test_ema_tracks_generator(tmp_path):
    gan = Trainer(preset("tiny", ema_decay=0.5), torch.device("cpu"))
    with torch.no_grad():
        for p in gan.G.parameters():
            p.add_(1.0)
    before = [p.clone() for p in gan.ema_G.parameters()]
    gan.update_ema(step=1)
    for b, e, g in zip(before, gan.ema_G.parameters(), gan.G.parameters()):
        torch.testing.assert_close(e, 0.5 * b + 0.5 * g)


def test_accumulate_sums_weighted_values_and_keeps_maxima():
    totals: dict = {}
    accumulate(totals, {"loss": torch.tensor(1.0), "max_abs_d": torch.tensor(3.0)})
    accumulate(totals, {"loss": torch.tensor(4.0), "max_abs_d": torch.tensor(2.0)}, weight=0.5)
    assert totals["loss"].item() == 3.0 and totals["max_abs_d"].item() == 3.0


def test_the_trainer_builds_from_the_resolved_config():
    trainer = Trainer(preset("tiny", normalizer="gran", device="auto"), torch.device("cpu"))
    c = trainer.config
    assert (c.K, c.eps, c.device, c.fast, c.cnn_variant, c.init) == (0.1, DEFAULT_EPS, "cpu", False, "reference_code",
                                                                     "normal_0.02")
    assert trainer.D.K == c.K and trainer.D.gran.eps == c.eps
    assert Trainer(preset("tiny", normalizer="sn"), torch.device("cpu")).D.K == 1.0
