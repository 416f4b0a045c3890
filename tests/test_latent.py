import torch

from vosgan.config import get_preset
from vosgan.models.latent import lerp, sample_latents, slerp, trajectory


def test_slerp_endpoints_and_unit_norm():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 16, generator=g), torch.randn(5, 16, generator=g)
    a, b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert path.shape == (5, 9, 16)
    torch.testing.assert_close(path[:, 0], a)
    torch.testing.assert_close(path[:, -1], b)
    torch.testing.assert_close(path.norm(dim=-1), torch.ones(5, 9))
    # Equal angular steps: consecutive points are equally far apart on the sphere.
    steps = (path[:, 1:] - path[:, :-1]).norm(dim=-1)
    torch.testing.assert_close(steps, steps[:, :1].expand_as(steps))


def test_lerp_leaves_the_sphere_but_slerp_does_not():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    mid_lerp = lerp(a, b, torch.tensor([0.5]))[0, 0]
    mid_slerp = slerp(a, b, torch.tensor([0.5]))[0, 0]
    assert abs(mid_lerp.norm().item() - 0.5**0.5) < 1e-6
    torch.testing.assert_close(mid_slerp, torch.tensor([0.5**0.5, 0.5**0.5]))


def test_slerp_of_parallel_points_is_finite():
    a = torch.tensor([[1.0, 2.0, 3.0]])
    path = trajectory(a, 2 * a, 4, "slerp")
    assert torch.isfinite(path).all()
    torch.testing.assert_close(path[0, -1], 2 * a[0])


def test_sample_latents_shapes_seed_and_modes():
    cfg = get_preset("tiny")
    z_c, z_m = sample_latents(cfg, 3, torch.Generator().manual_seed(1))
    assert z_c.shape == (3, cfg.latent.dim) and z_m.shape == (3, cfg.frames, cfg.latent.dim)
    z_c2, z_m2 = sample_latents(cfg, 3, torch.Generator().manual_seed(1))
    assert torch.equal(z_c, z_c2) and torch.equal(z_m, z_m2)
    # SLERP trajectories are smooth; random points are not.
    smooth = (z_m[:, 1:] - z_m[:, :-1]).norm(dim=-1).mean()
    rnd = sample_latents(cfg.with_overrides(latent={"trajectory": "random"}), 3, torch.Generator().manual_seed(1))[1]
    rough = (rnd[:, 1:] - rnd[:, :-1]).norm(dim=-1).mean()
    assert smooth * 3 < rough


def test_slerp_takes_unbatched_points_and_random_trajectories_keep_their_endpoints():
    from vosgan.models.latent import random_trajectory

    a, b = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))
    t = torch.linspace(0, 1, 5)
    torch.testing.assert_close(slerp(a, b, t), slerp(a[None], b[None], t)[0])
    assert slerp(a, b, t).shape == (5, 8)
    z = random_trajectory(a[None], b[None], 6, torch.Generator().manual_seed(1))
    assert z.shape == (1, 6, 8) and torch.equal(z[0, 0], a) and torch.equal(z[0, -1], b)
    assert not torch.equal(z, random_trajectory(a[None], b[None], 6, torch.Generator().manual_seed(2)))
