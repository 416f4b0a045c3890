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
from vosgan.metrics.masks import centroid_path
from vosgan.models import Discriminator, Generator, GeneratorOutput
from vosgan.models.latent import random_trajectory, slerp, trajectory
from vosgan.models.sampling import LatentPoint, discriminate, render
from vosgan.viz.frames import (
    STREAMS,
    colour_wheel,
    discriminator_flow_frames,
    label_font,
    mask_frames,
    pick_frames,
    save_gif_images,
    stream_frames,
)

MODES = TRAJECTORIES
D_STREAMS = ("D segmentation", "D flow")  # offered when the explorer has a discriminator
LABEL_HEIGHT = 16  # pixels of the strip that names each tile
KEY_HEIGHT = 38  # pixels under the tiles for a flow stream's colour key
TRAIL_COLOR = (255, 215, 0)  # the object's path drawn over the tiles


class LatentExplorer:
    """Sliders for the position between two scenes (z_c) and two trajectories (z_m), seed pickers
    for the four endpoints, a looping frame scrubber with play, the trajectory mode and stream toggles
    (the generator's four streams and, given a discriminator, its segmentation and flow of the clip).

    Rendering is cached by latent state, so scrubbing frames or toggling streams costs no forward
    pass; the latent sliders update on release (``continuous_update=False``), which debounces drags.
    Tiles are labelled and shown at a fixed ``scale``; the path of the generated object (the centre
    of its mask) is drawn over them up to the current frame, a strip of the clip's frames sits under
    them, and a flow stream comes with its colour key and scale. ``save_gif`` saves what is shown, at
    that scale with its labels; ``load`` switches to another checkpoint (each with its own field and
    button). In 'random' trajectory mode the motion slider moves the trajectory's endpoints; the points
    between them are drawn from the motion seeds.
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
        self.play = W.Play(value=0, min=0, max=self.cfg.frames - 1, interval=120, repeat=True)
        W.jslink((self.play, "value"), (self.frame, "value"))
        self.mode = W.Dropdown(options=MODES, value="slerp", description="trajectory")
        options = STREAMS + (D_STREAMS if discriminator is not None else ())
        self.streams = W.SelectMultiple(options=options, value=STREAMS, description="streams", rows=len(options))
        self.trail = W.Checkbox(value=True, description="object path", indent=False)
        self.image = W.Image(format="png")
        self.strip = W.Image(format="png")
        self.status = W.Label()
        self.gif_path = W.Text(value="explorer.gif", description="GIF file", layout=W.Layout(width="360px"))
        self.checkpoint_path = W.Text(
            value="",
            placeholder="checkpoints/vosgan-small.pt",
            description="checkpoint",
            layout=W.Layout(width="360px"),
        )
        self.save_button = W.Button(description="save GIF", tooltip="what is shown, over all frames")
        self.load_button = W.Button(description="load checkpoint", tooltip="the checkpoint named on the left")
        self.save_button.on_click(lambda _: self._report(self.save_gif, self.gif_path.value))
        self.load_button.on_click(lambda _: self._report(self.load, self.checkpoint_path.value))
        for w in (self.scene, self.motion, self.frame, self.mode, self.streams, self.trail, *self.seeds):
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
            view = None if self.discriminator is None else discriminate(self.discriminator, out.video)
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

    def flow_limit(self) -> float:
        """Pixels per frame shown at full colour in the 'D flow' tile (its own scale, see the figures)."""
        return discriminator_flow_frames(self._views()[1].flow_pixels[0])[1]

    def object_path(self) -> tuple[np.ndarray, np.ndarray]:
        """The generated object's path: centre of the mask (m > 0.5) per frame, (T, 2) pixels (x, y), and
        (T,) whether the frame has an object at all."""
        hard = (self.output().mask > 0.5).float()
        present = hard[0, 0].flatten(1).amax(dim=1).numpy() > 0
        return centroid_path(hard)[0].numpy(), present

    def frame_image(self, frame: int | None = None) -> np.ndarray:
        """The selected streams at ``frame`` (the slider's by default), side by side, RGB uint8
        (H, n*W, 3); a black tile when none is selected."""
        t = self.frame.value if frame is None else frame
        tiles = [self.stream_clip(s)[t] for s in self.streams.value]
        return np.concatenate(tiles, axis=1) if tiles else np.zeros((self.cfg.size,) * 2 + (3,), np.uint8)

    def labelled_image(self, frame: int | None = None) -> Image.Image:
        """What the widget shows at ``frame``: ``frame_image`` at ``scale``, each tile's stream name above
        it, the object's path so far over every tile, and a colour key under a flow tile."""
        t = self.frame.value if frame is None else frame
        image = self.frame_image(t)
        big = Image.fromarray(image).resize((image.shape[1] * self.scale, image.shape[0] * self.scale), Image.NEAREST)
        keyed = "D flow" in self.streams.value
        canvas = Image.new("RGB", (big.width, big.height + LABEL_HEIGHT + (KEY_HEIGHT if keyed else 0)), "white")
        canvas.paste(big, (0, LABEL_HEIGHT))
        draw, font = ImageDraw.Draw(canvas), label_font()
        tile = self.cfg.size * self.scale
        for i, name in enumerate(self.streams.value or ("no stream selected",)):
            draw.text((i * tile + 3, 1), name, fill="black", font=font)
        if self.trail.value and self.streams.value:
            path, present = self.object_path()
            points = [tuple(self.scale * (p + 0.5)) for p, seen in zip(path[: t + 1], present[: t + 1]) if seen]
            for i in range(len(self.streams.value)):
                shifted = [(x + i * tile, y + LABEL_HEIGHT) for x, y in points]
                if len(shifted) > 1:
                    draw.line(shifted, fill=TRAIL_COLOR, width=2)
                if present[t]:
                    x, y = shifted[-1]
                    draw.ellipse((x - 3, y - 3, x + 3, y + 3), outline=TRAIL_COLOR, width=2)
        if keyed:
            left = self.streams.value.index("D flow") * tile
            wheel = Image.fromarray(colour_wheel(KEY_HEIGHT - 8))
            canvas.paste(wheel, (left + 3, LABEL_HEIGHT + big.height + 4))
            text = f"hue: direction\nfull colour at\n{self.flow_limit():.2f} px/frame"
            position = (left + KEY_HEIGHT, LABEL_HEIGHT + big.height + 1)
            draw.multiline_text(position, text, fill="black", font=label_font(10), spacing=1)
        return canvas

    def strip_image(self, count: int = 8, scale: int = 2) -> Image.Image:
        """``count`` evenly spaced frames of the composite video at ``scale``, labelled with their index,
        the frame on display (or the nearest shown) boxed."""
        clip = self.stream_clip("video")
        chosen = pick_frames(len(clip), count)
        side = self.cfg.size * scale
        canvas = Image.new("RGB", (len(chosen) * (side + 2), side + LABEL_HEIGHT), "white")
        draw, font = ImageDraw.Draw(canvas), label_font()
        nearest = int(np.abs(chosen - self.frame.value).argmin())
        for i, t in enumerate(chosen):
            x = i * (side + 2)
            canvas.paste(Image.fromarray(clip[t]).resize((side, side), Image.NEAREST), (x, LABEL_HEIGHT))
            draw.text((x + 2, 1), f"frame {t}", fill="black", font=font)
            if i == nearest:
                draw.rectangle((x, LABEL_HEIGHT, x + side - 1, LABEL_HEIGHT + side - 1), outline=(230, 0, 0), width=2)
        return canvas

    def update(self) -> None:
        t0 = time.perf_counter()
        if self.state() not in self._cache:
            self.status.value = "rendering..."  # a forward pass is coming: say so before it
        for widget, canvas in ((self.image, self.labelled_image()), (self.strip, self.strip_image())):
            buffer = io.BytesIO()
            canvas.save(buffer, format="png", compress_level=1)  # 2.5 ms less per update than the default 6
            widget.value = buffer.getvalue()
            widget.layout = W.Layout(width=f"{canvas.width}px", height=f"{canvas.height}px")  # no stretching
        self.last_latency_ms = 1000 * (time.perf_counter() - t0)  # render + encode, as the user waits for it
        shown = " | ".join(self.streams.value) if self.streams.value else "select at least one stream"
        self.status.value = f"{self.last_latency_ms:.0f} ms per update, {self.renders} forward passes; {shown}"

    def save_gif(self, path: str) -> str:
        """What the explorer shows (``labelled_image``) over all frames, at the displayed scale, as a
        looping GIF at the player's speed."""
        if not self.streams.value:
            raise ValueError("select at least one stream to save")
        if not path.lower().endswith(".gif"):
            raise ValueError(f"{path!r}: name a .gif file to save the animation to")
        images = [self.labelled_image(t) for t in range(self.cfg.frames)]
        return f"saved {save_gif_images(images, path, fps=round(1000 / self.play.interval))}"

    def load(self, path: str) -> str:
        """Switch to the networks of another checkpoint (same controls, empty cache)."""
        from vosgan.models.checkpoint import load_models

        if not path:
            raise ValueError("name a VOS-GAN checkpoint in the 'checkpoint' field, e.g. checkpoints/vosgan-small.pt")
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
        ends = lambda a, slider, b: W.HBox([slider, W.Label(f"{a} \u2190 \u2192 {b}")])  # noqa: E731
        return W.VBox(
            [
                W.HBox([ends("seed scene A", self.scene, "seed scene B"), self.mode]),
                ends("seed motion A", self.motion, "seed motion B"),
                W.HBox(self.seeds),
                W.HBox([self.play, self.frame, self.trail, self.streams]),
                self.image,
                self.strip,
                self.status,
                W.HBox([self.gif_path, self.save_button]),
                W.HBox([self.checkpoint_path, self.load_button]),
            ]
        )

    def figure(self, frames: int = 8):
        """A static matplotlib figure of the current state (for papermill runs and saved figures)."""
        from vosgan.viz.frames import streams_figure

        return streams_figure(
            self.output(),
            count=1,
            frames=frames,
            title=f"scene {self.scene.value:.2f}, motion {self.motion.value:.2f}, {self.mode.value}",
        )

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())
