"""Optimisation pieces shared by the GAN trainer and the segmenter's fine-tuning: the one optimizer
factory (the paper's Adam settings, Sect. 4.2) and an exponential moving average of a network."""

from __future__ import annotations

import copy

import torch


def make_optimizer(parameters, t, lr: float | None = None) -> torch.optim.Adam:
    """Adam with the paper's settings (Sect. 4.2): ``lr`` (default ``t.lr``), betas (beta1, beta2)."""
    return torch.optim.Adam(parameters, lr=t.lr if lr is None else lr, betas=(t.beta1, t.beta2))


class EMA:
    """An exponential moving average of a network's parameters, for samples and snapshots. Buffers are
    copied, or with ``average_buffers`` the floating-point ones (BatchNorm statistics) are averaged too,
    so that an averaged network normalises with statistics of the same span of training."""

    def __init__(self, module: torch.nn.Module, decay: float, average_buffers: bool = False):
        self.decay, self.average_buffers = decay, average_buffers
        self.shadow = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        for avg, p in zip(self.shadow.parameters(), module.parameters()):
            avg.lerp_(p.detach(), 1 - self.decay)
        for avg, b in zip(self.shadow.buffers(), module.buffers()):
            if self.average_buffers and b.is_floating_point():
                avg.lerp_(b, 1 - self.decay)
            else:
                avg.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow.load_state_dict(state)
