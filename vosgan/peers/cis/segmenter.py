"""CIS as a segmenter: the trained mask generator on any video, and the ideal-conditions experiment."""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

from vosgan.config import SegmentConfig
from vosgan.data.clips import resize_frames
from vosgan.data.flow import FlowCache, farneback
from vosgan.models.summary import parameter_count
from vosgan.peers.cis.config import METHOD, CISConfig
from vosgan.peers.cis.losses import normalise_flow
from vosgan.peers.cis.networks import Inpainter, MaskGenerator
from vosgan.peers.cis.training import ideal_flow
from vosgan.peers.common import (
    PeerSegmenter,
    images,
    load_peer,
)
from vosgan.segmentation.refine import refine as refine_maps


class CISSegmenter(PeerSegmenter):
    """The trained mask generator as a video segmenter (Eq. 14): P_t is the mean of P_t(dT) over the
    dT in [-5, 5] \\ {0} with I_{t + dT} inside the video; then the polarity rule (module docstring).
    The paper's CRF is one of the kit's refinements (``vosgan.segmentation.refine``, ``--refine crf``)."""

    method, setting, needs_first_mask = METHOD, "unsupervised", False

    def __init__(
        self,
        path,
        device="cpu",
        polarity: str = "smaller",
        flow_cache: FlowCache | None = None,
    ):
        self.cfg, self.generator, self.inpainter, self.state = load_peer(
            path, METHOD, CISConfig, MaskGenerator, Inpainter, device
        )
        self.device, self.polarity, self.flow_cache = torch.device(device), polarity, flow_cache

    @property
    def parameters(self) -> int:
        """Parameters used at test time (the mask generator only, as the paper counts)."""
        return parameter_count(self.generator)

    @torch.no_grad()
    def probabilities(self, frames: np.ndarray, masks: np.ndarray | None = None, batch: int = 64) -> np.ndarray:
        """RGB uint8 (N, H, W, 3) -> foreground probability (N, S, S) at the working size. ``masks``
        (ids at the working size) replace the flow by Table 1's ideal fields when the config asks."""
        cfg, n = self.cfg, len(frames)
        small = resize_frames(frames, cfg.size)
        total, count = np.zeros((n, cfg.size, cfg.size), np.float32), np.zeros(n, np.float32)
        rng = np.random.default_rng(0)
        for dt in (d for d in range(-cfg.max_dt, cfg.max_dt + 1) if d):
            ts = [t for t in range(n) if 0 <= t + dt < n]
            if not ts:
                continue
            if cfg.ideal and masks is not None:
                flow = ideal_flow(masks[ts], cfg.ideal_range, rng)
            else:  # the flow from each frame t in ts to t + dt, through the kit's flow cache when given
                flow = self.flow_cache(small, dt) if self.flow_cache else farneback(small, step=dt)
                flow = flow[: len(ts)]  # at dT = 1 the kit's flow repeats the last pair for the last frame
            for i in range(0, len(ts), batch):
                part = ts[i : i + batch]
                image = images(small[part])
                u = normalise_flow(
                    rearrange(torch.from_numpy(flow[i : i + batch]), "b h w c -> b c h w"), cfg.flow_floor
                )
                p = self.generator.probability(image.to(self.device), u.to(self.device)).cpu()[:, 0].numpy()
                total[part] += p
                count[part] += 1
        p = total / np.maximum(count, 1)[:, None, None]
        if self.polarity == "smaller" and p.mean() > 0.5:
            p = 1 - p
        return p


def ideal_conditions(path, split: str = "test", device="cpu", refine: str = "none") -> dict[str, float]:
    """Table 1 on the embedded benchmark: a CIS checkpoint trained with ``ideal=True`` segments ``split``
    with each frame's flow replaced by independent constant fore/background fields; binary J and F of the
    kit's evaluation (frames 1..N-2). Near-perfect J is what the paper reports (88.5-92.5), after its CRF
    (``refine='crf'``)."""
    from vosgan.metrics.evaluate import evaluate_arrays
    from vosgan.peers.common import training_videos

    segmenter = CISSegmenter(path, device)
    settings = SegmentConfig(refine=refine)
    if not segmenter.cfg.ideal:
        raise ValueError(f"{path} was not trained in ideal conditions (train it with --ideal)")
    truth, pred = {}, {}
    for name, (frames, ids) in training_videos("synthetic", split, 64).items():
        small = resize_frames(ids, segmenter.cfg.size, nearest=True)
        probability = refine_maps(segmenter.probabilities(frames, small), frames, settings)
        truth[name], pred[name] = ids, (probability > 0.5).astype(np.uint8)
    g = evaluate_arrays(truth, pred, binary=True)["global"]
    return {"J": g["J-Mean"], "F": g["F-Mean"]}
