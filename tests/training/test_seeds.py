from granlib.training.seeds import RANK_STRIDE, RUN_STRIDE, SeedStreams, evaluation_noise


def test_streams_keep_the_seeds_runs_have_always_used():
    """Named streams, same numbers as before they had names: committed runs stay reproducible."""
    streams = SeedStreams(seed=3, rank=2)
    assert (streams.weights, streams.data, streams.fixed_samples, streams.probe) == (3, 2003, 4, 5)
    assert streams.rank_noise(7) == 3 * 100_003 + 2000 + 7 and streams.rank_data(7) == streams.rank_noise(7) + 1
    assert evaluation_noise(3, 1) == 3 * RUN_STRIDE + 1 and RANK_STRIDE == 1000


def test_ranks_draw_different_data_and_noise_but_the_same_weights():
    ranks = [SeedStreams(seed=0, rank=r) for r in range(4)]
    assert len({s.weights for s in ranks}) == 1
    assert len({s.data for s in ranks}) == 4 and len({s.rank_noise(10) for s in ranks}) == 4
