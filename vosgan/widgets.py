"""A scene-by-motion explorer for JupyterLab (ipywidgets).

The logic is a plain class: ``state`` -> latents -> cached generator outputs -> one image. Tests
and papermill runs drive it by setting slider values, and ``figure()`` gives a static picture
when no front end is attached.
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict

import ipywidgets as W
import numpy as np
import torch
from PIL import Image

from vosgan.config import TRAJECTORIES
from vosgan.latent import random_trajectory, slerp, trajectory
from vosgan.models import Discriminator, Generator, GeneratorOutput
from vosgan.sampling import LatentPoint, render
from vosgan.viz import STREAMS, stream_frames

MODES = TRAJECTORIES


class LatentExplorer:
    """Sliders for the position between two scenes (z_c) and two trajectories (z_m), seed pickers
    for the four endpoints, a frame scrubber with play, the trajectory mode and stream toggles.

    Rendering is cached by latent state, so scrubbing frames or toggling streams costs no forward
    pass; the latent sliders update on release (``continuous_update=False``), which debounces drags.
    """

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator | None = None,
        seeds: tuple[int, int, int, int] = (0, 1, 2, 3),
        scale: int = 4,
        cache_size: int = 128,
    ):
        self.generator, self.discriminator = generator, discriminator
        self.cfg = generator.cfg
        self.scale = scale
        self._cache: OrderedDict[tuple, GeneratorOutput] = OrderedDict()
        self.cache_size = cache_size
        self.renders = 0  # forward passes run (cache misses)
        self.last_latency_ms = 0.0
        slider = dict(min=0.0, max=1.0, step=0.05, continuous_update=False, readout_format=".2f")
        self.scene = W.FloatSlider(value=0.0, description="scene z_C", **slider)
        self.motion = W.FloatSlider(value=0.0, description="motion z_M", **slider)
        self.seeds = [
            W.BoundedIntText(value=s, min=0, max=2**31 - 1, description=d, layout=W.Layout(width="180px"))
            for s, d in zip(seeds, ("scene A", "scene B", "motion A", "motion B"))
        ]
        self.frame = W.IntSlider(value=0, min=0, max=self.cfg.frames - 1, description="frame")
        self.play = W.Play(value=0, min=0, max=self.cfg.frames - 1, interval=120)
        W.jslink((self.play, "value"), (self.frame, "value"))
        self.mode = W.Dropdown(options=MODES, value="slerp", description="trajectory")
        self.streams = W.SelectMultiple(options=STREAMS, value=STREAMS, description="streams", rows=4)
        self.image = W.Image(format="png")
        self.status = W.Label()
        for w in (self.scene, self.motion, self.frame, self.mode, self.streams, *self.seeds):
            w.observe(self._on_change, names="value")
        self.update()

    # ------------------------------------------------------------------------------ logic
    def state(self) -> tuple:
        """Everything the rendered latents depend on (the cache key)."""
        return (
            tuple(s.value for s in self.seeds),
            round(self.scene.value, 4),
            round(self.motion.value, 4),
            self.mode.value,
        )

    def latents(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``z_c`` (1, d) and ``z_m`` (1, T, d) for the current slider state."""
        dim, frames = self.cfg.latent.dim, self.cfg.frames
        points = [LatentPoint.from_seed(dim, s.value) for s in self.seeds]
        scene_a, scene_b, motion_a, motion_b = points
        z_c = slerp(scene_a.z_c[None], scene_b.z_c[None], torch.tensor([self.scene.value]))[:, 0]
        position = torch.tensor([self.motion.value])
        start = slerp(motion_a.start[None], motion_b.start[None], position)[:, 0]
        end = slerp(motion_a.end[None], motion_b.end[None], position)[:, 0]
        if self.mode.value == "random":
            # Independent points between the endpoints, seeded by the motion seeds.
            g = torch.Generator().manual_seed(self.seeds[2].value * 7919 + self.seeds[3].value)
            z_m = random_trajectory(start, end, frames, g)
        else:
            z_m = trajectory(start, end, frames, self.mode.value)
        return z_c, z_m

    def output(self) -> GeneratorOutput:
        """Generator outputs for the current state, from the cache when possible."""
        key = self.state()
        if key not in self._cache:
            self._cache[key] = render(self.generator, *self.latents())
            self.renders += 1
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def frame_image(self) -> np.ndarray:
        """The selected streams at the current frame, side by side, RGB uint8 (H, n*W, 3)."""
        out = self.output()
        t = self.frame.value
        tiles = [stream_frames(out, 0, s)[t] for s in self.streams.value] or [
            np.zeros((self.cfg.size,) * 2 + (3,), np.uint8)
        ]
        return np.concatenate(tiles, axis=1)

    def update(self) -> None:
        t0 = time.perf_counter()
        image = self.frame_image()
        big = Image.fromarray(image).resize((image.shape[1] * self.scale, image.shape[0] * self.scale), Image.NEAREST)
        buffer = io.BytesIO()
        big.save(buffer, format="png")
        self.image.value = buffer.getvalue()
        self.last_latency_ms = 1000 * (time.perf_counter() - t0)  # render + encode, as the user waits for it
        self.status.value = (
            f"{self.last_latency_ms:.0f} ms per update, {self.renders} forward passes, {' | '.join(self.streams.value)}"
        )

    def _on_change(self, change) -> None:
        self.update()

    # ------------------------------------------------------------------------------ views
    def widget(self) -> W.Widget:
        """The assembled explorer for display in JupyterLab."""
        return W.VBox(
            [
                W.HBox([self.scene, self.motion, self.mode]),
                W.HBox(self.seeds),
                W.HBox([self.play, self.frame, self.streams]),
                self.image,
                self.status,
            ]
        )

    def figure(self, frames: int = 8):
        """A static matplotlib figure of the current state (for papermill runs and saved figures)."""
        from vosgan.viz import streams_figure

        return streams_figure(
            self.output(),
            count=1,
            frames=frames,
            title=f"scene {self.scene.value:.2f}, motion {self.motion.value:.2f}, {self.mode.value}",
        )

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())
