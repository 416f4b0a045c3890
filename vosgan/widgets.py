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
from PIL import Image, ImageDraw

from vosgan.config import TRAJECTORIES
from vosgan.latent import random_trajectory, slerp, trajectory
from vosgan.models import Discriminator, Generator, GeneratorOutput
from vosgan.sampling import LatentPoint, render
from vosgan.viz import STREAMS, discriminator_flow_frames, mask_frames, stream_frames

MODES = TRAJECTORIES
D_STREAMS = ("D segmentation", "D flow")  # offered when the explorer has a discriminator
LABEL_HEIGHT = 14  # pixels of the strip that names each tile


class LatentExplorer:
    """Sliders for the position between two scenes (z_c) and two trajectories (z_m), seed pickers
    for the four endpoints, a frame scrubber with play, the trajectory mode and stream toggles (the
    generator's four streams and, given a discriminator, its segmentation and flow of the clip).

    Rendering is cached by latent state, so scrubbing frames or toggling streams costs no forward
    pass; the latent sliders update on release (``continuous_update=False``), which debounces drags.
    Tiles are labelled and shown at a fixed ``scale``; ``save_gif`` and ``load`` (also as buttons)
    save the current clip and switch to another checkpoint. In 'random' trajectory mode the motion
    slider moves the trajectory's endpoints; the points between them are drawn from the motion seeds.
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
        self._cache: OrderedDict[tuple, tuple] = OrderedDict()  # state -> (GeneratorOutput, D's view or None)
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
        options = STREAMS + (D_STREAMS if discriminator is not None else ())
        self.streams = W.SelectMultiple(options=options, value=STREAMS, description="streams", rows=len(options))
        self.image = W.Image(format="png")
        self.status = W.Label()
        self.path = W.Text(value="explorer.gif", description="file", layout=W.Layout(width="320px"))
        self.save_button = W.Button(description="save GIF", tooltip="the selected streams over all frames")
        self.load_button = W.Button(description="load checkpoint", tooltip="the file named on the left")
        self.save_button.on_click(lambda _: self._report(self.save_gif, self.path.value))
        self.load_button.on_click(lambda _: self._report(self.load, self.path.value))
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

    def _views(self) -> tuple[GeneratorOutput, object]:
        """(generator outputs, the discriminator's view or None) for the current state, cached."""
        key = self.state()
        if key not in self._cache:
            out = render(self.generator, *self.latents())
            view = None
            if self.discriminator is not None:
                self.discriminator.eval()
                with torch.no_grad():
                    view = self.discriminator(out.video.to(next(self.discriminator.parameters()).device)).cpu()
            self._cache[key] = (out, view)
            self.renders += 1
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def output(self) -> GeneratorOutput:
        """Generator outputs for the current state, from the cache when possible."""
        return self._views()[0]

    def stream_clip(self, stream: str) -> np.ndarray:
        """One selected stream of the current state over all frames, RGB uint8 (T, H, W, 3)."""
        out, view = self._views()
        if stream == "D segmentation":
            return mask_frames(view.probability[0])
        if stream == "D flow":
            return discriminator_flow_frames(view.flow_pixels[0])[0]  # at its own scale, as in the figures
        return stream_frames(out, 0, stream)

    def frame_image(self) -> np.ndarray:
        """The selected streams at the current frame, side by side, RGB uint8 (H, n*W, 3); a black
        tile when none is selected."""
        t = self.frame.value
        tiles = [self.stream_clip(s)[t] for s in self.streams.value]
        return np.concatenate(tiles, axis=1) if tiles else np.zeros((self.cfg.size,) * 2 + (3,), np.uint8)

    def labelled_image(self) -> Image.Image:
        """``frame_image`` at ``scale`` with each tile's stream name above it (what the widget shows)."""
        image = self.frame_image()
        big = Image.fromarray(image).resize((image.shape[1] * self.scale, image.shape[0] * self.scale), Image.NEAREST)
        canvas = Image.new("RGB", (big.width, big.height + LABEL_HEIGHT), "white")
        canvas.paste(big, (0, LABEL_HEIGHT))
        draw = ImageDraw.Draw(canvas)
        tile = self.cfg.size * self.scale
        for i, name in enumerate(self.streams.value or ("no stream selected",)):
            draw.text((i * tile + 3, 3), name, fill="black")
        return canvas

    def update(self) -> None:
        t0 = time.perf_counter()
        if self.state() not in self._cache:
            self.status.value = "rendering..."  # a forward pass is coming: say so before it
        canvas = self.labelled_image()
        buffer = io.BytesIO()
        canvas.save(buffer, format="png")
        self.image.value = buffer.getvalue()
        self.image.layout = W.Layout(width=f"{canvas.width}px", height=f"{canvas.height}px")  # no stretching
        self.last_latency_ms = 1000 * (time.perf_counter() - t0)  # render + encode, as the user waits for it
        shown = " | ".join(self.streams.value) if self.streams.value else "select at least one stream"
        self.status.value = f"{self.last_latency_ms:.0f} ms per update, {self.renders} forward passes; {shown}"

    def save_gif(self, path: str) -> str:
        """The selected streams of the current state over all frames, side by side, as an animated GIF."""
        from vosgan.viz import save_gif

        clips = [self.stream_clip(s) for s in self.streams.value]
        if not clips:
            raise ValueError("select at least one stream to save")
        return f"saved {save_gif([np.concatenate(clips, axis=2)], path)}"

    def load(self, path: str) -> str:
        """Switch to the networks of another checkpoint (same controls, empty cache)."""
        from vosgan.checkpoint import load_models

        cfg, generator, discriminator = load_models(path, next(self.generator.parameters()).device)
        if cfg.frames != self.cfg.frames or cfg.latent.dim != self.cfg.latent.dim:
            raise ValueError(f"{path} has {cfg.frames} frames and d = {cfg.latent.dim}; this explorer needs the same")
        self.generator, self.discriminator, self.cfg = generator, discriminator, cfg
        self._cache.clear()
        self.update()
        return f"loaded {path}"

    def _report(self, action, path: str) -> None:
        """Run a button's action; its result or error goes to the status line (a widget has no stderr)."""
        try:
            self.status.value = action(path)
        except Exception as err:  # noqa: BLE001 - shown to the user, who can fix the path
            self.status.value = f"error: {err}"

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
                W.HBox([self.path, self.save_button, self.load_button]),
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
