"""The CIS objective: the normalised reconstruction error of Eq. 7/9 and the separation game of Eq. 10."""

from __future__ import annotations

import torch

from vosgan.peers.cis.networks import Inpainter


def normalise_flow(flow: torch.Tensor, floor: float) -> torch.Tensor:
    """Flow (B, 2, H, W) in pixels divided by its per-sample RMS magnitude (at least ``floor`` pixels)."""
    rms = flow.pow(2).sum(1).mean((1, 2)).sqrt().clamp_min(floor)
    return flow / rms[:, None, None, None]


def separation_loss(
    flow: torch.Tensor, chi: torch.Tensor, inside: torch.Tensor, outside: torch.Tensor, epsilon: float
) -> torch.Tensor:
    """Eq. 9 over a batch: sum ||chi (u - phi(chi, (1 - chi) u, I))||^2 / (sum ||chi u||^2 + eps) plus the
    same for the complement. ``flow`` u (B, 2, H, W); ``chi`` (B, 1, H, W); ``inside`` and ``outside``
    the inpainter's flow for the region and for its complement. Sums run over the batch (the paper's
    sum over samples). The inpainter minimises it; the generator maximises it (Eq. 10); each term is
    1 when the inpainter learns nothing from the other region, 0 when it reconstructs it exactly."""
    inner = (chi * (flow - inside)).pow(2).sum() / ((chi * flow).pow(2).sum() + epsilon)
    outer = ((1 - chi) * (flow - outside)).pow(2).sum() / (((1 - chi) * flow).pow(2).sum() + epsilon)
    return inner + outer


def flip_rewards(
    flow: torch.Tensor, region: torch.Tensor, inside: torch.Tensor, outside: torch.Tensor, epsilon: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """How much Eq. 9 gains from each pixel where it was drawn, to first order: for a pixel of the binary
    ``region`` (B, 1, H, W), (e - R_in u^2) / D_in, its term in the inner ratio (its squared error e when
    predicted from the outside, less the ratio R_in = N_in / D_in times its flow energy u^2); for a pixel
    outside it, the same with the outer ratio. Returns both maps (B, 1, H, W), each zero off its side."""
    u2 = flow.pow(2).sum(1, keepdim=True)
    gains = []
    for side, predicted in ((region, inside), (1 - region, outside)):
        error = (flow - predicted).pow(2).sum(1, keepdim=True)
        denominator = (side * u2).sum() + epsilon
        ratio = (side * error).sum() / denominator
        gains.append(side * (error - ratio * u2) / denominator)
    return gains[0], gains[1]


def inpaint_both(inpainter: Inpainter, image: torch.Tensor, flow: torch.Tensor, chi: torch.Tensor):
    """The inpainter's flow inside the region (from the outside) and outside it (from the inside)."""
    return inpainter(image, (1 - chi) * flow, chi), inpainter(image, chi * flow, 1 - chi)
