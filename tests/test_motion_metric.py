import numpy as np
import torch

from vosgan.data.clips import to_tensor
from vosgan.data.synthetic import make_benchmark
from vosgan.metrics.motion import flow_histogram, kl_divergence, motion_coherency


def test_histogram_is_normalised_and_kl_is_zero_for_identical():
    flow = torch.randn(2, 2, 3, 8, 8)
    h = flow_histogram(flow, 4.0)
    assert h.shape == (16, 16) and np.isclose(h.sum(), 1.0) and (h > 0).all()
    assert kl_divergence(h, h) == 0.0
    right = torch.zeros(1, 2, 2, 8, 8)
    right[:, 0] = 2.0  # everything moves right by 2 px
    left = -right
    assert kl_divergence(flow_histogram(right, 4.0), flow_histogram(left, 4.0)) > 5


def test_motion_coherency_ranks_real_motion_closer_than_noise():
    clips = make_benchmark(8, 8, 32, seed=0)
    videos = torch.stack([to_tensor(c.frames) for c in clips])
    other = torch.stack([to_tensor(c.frames) for c in make_benchmark(8, 8, 32, seed=1)])
    noise = torch.rand_like(videos) * 2 - 1
    assert motion_coherency(videos, other) < motion_coherency(videos, noise)


def test_model_motion_coherency(tiny_dataset):
    from vosgan.config import get_preset
    from vosgan.metrics.motion import model_motion_coherency
    from vosgan.models import Generator

    untrained = model_motion_coherency(Generator(get_preset("tiny")), tiny_dataset, count=8)
    assert untrained > 0.5  # checkerboard noise moves nothing like the benchmark's objects

    class Replay(Generator):  # a "generator" that plays back real clips: motion identical to the data's
        def forward(self, z_c, z_m):
            from vosgan.models import GeneratorOutput

            video = torch.stack([tiny_dataset[i]["video"] for i in range(len(z_c))])
            return GeneratorOutput(video, video, video[:, :, 0], video[:, :1])

    replay = model_motion_coherency(Replay(get_preset("tiny")), tiny_dataset, count=8)
    assert replay < 0.25 * untrained
