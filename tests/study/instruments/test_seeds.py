from granlib.study.instruments.seeds import StudySeeds


def test_named_streams_give_the_numbers_the_committed_rows_were_measured_with():
    seeds = StudySeeds(3)
    assert (seeds.generator_weights, seeds.discriminator_weights, seeds.data, seeds.fixed_codes) == (3, 4, 3, 3)
    assert (seeds.measurement, seeds.evaluation, seeds.real_images, seeds.generated_images) == (3, 10_003, 20_003,
                                                                                              30_003)


def test_the_measurement_streams_of_two_seeds_never_meet():
    streams = [(s.evaluation, s.real_images, s.generated_images) for s in map(StudySeeds, range(10))]
    flat = [n for triple in streams for n in triple]
    assert len(flat) == len(set(flat))
