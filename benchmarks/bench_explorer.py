"""Latency of one explorer update with the small preset: a latent slider (forward pass) and a
frame scrub (cache hit), as a user dragging sliders on a CPU experiences it."""

from __future__ import annotations

import statistics
import sys

from _common import machine

from vosgan.exploration.widgets import LatentExplorer
from vosgan.models.checkpoint import load_models


def main(checkpoint: str) -> None:
    print(machine())
    _, generator, discriminator = load_models(checkpoint)
    explorer = LatentExplorer(generator, discriminator)
    misses, hits = [], []
    for i in range(1, 21):
        explorer.scene.value = i / 20  # a new latent state: one forward pass
        misses.append(explorer.last_latency_ms)
        explorer.frame.value = i % generator.cfg.frames  # cached outputs, a new frame
        hits.append(explorer.last_latency_ms)
    print(f"latent slider update (forward pass): median {statistics.median(misses):6.1f} ms")
    print(f"frame scrub (cached):                median {statistics.median(hits):6.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "checkpoints/vosgan-small.pt")
