"""Rendering helpers: frame strips, the generator's streams side by side, mask overlays, flow
colour wheels, and animations that display inline in JupyterLab and save to files."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import torch
from einops import rearrange, repeat

from vosgan.data.clips import to_uint8
from vosgan.data.flow import flow_to_color

OVERLAY_COLOR = (255, 40, 40)


def pick_frames(total: int, count: int | None) -> np.ndarray:
    """``count`` evenly spaced frame indices of ``total`` (all when None)."""
    if count is None or count >= total:
        return np.arange(total)
    return np.linspace(0, total - 1, count).round().astype(int)


def strip(frames: np.ndarray, count: int | None = None, gap: int = 1) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 side by side with white gaps -> (H, n*(W+gap)-gap, 3)."""
    chosen = frames[pick_frames(len(frames), count)]
    if gap:
        pad = np.full((len(chosen), chosen.shape[1], gap, 3), 255, np.uint8)
        chosen = np.concatenate([chosen, pad], axis=2)
        return rearrange(chosen, "t h w c -> h (t w) c")[:, :-gap]
    return rearrange(chosen, "t h w c -> h (t w) c")


def grid(clips: list[np.ndarray], count: int | None = None, gap: int = 1) -> np.ndarray:
    """Clips (each (T, H, W, 3)) as rows of a grid image."""
    rows = [strip(c, count, gap) for c in clips]
    if gap:
        sep = np.full((gap, rows[0].shape[1], 3), 255, np.uint8)
        rows = [x for r in rows for x in (r, sep)][:-1]
    return np.concatenate(rows, axis=0)


def mask_frames(mask: torch.Tensor | np.ndarray) -> np.ndarray:
    """Probabilities (1, T, H, W) in [0, 1] -> grey RGB uint8 (T, H, W, 3)."""
    mask = torch.as_tensor(mask).detach().float().cpu().clamp(0, 1)
    return repeat((mask[0] * 255).round().to(torch.uint8).numpy(), "t h w -> t h w c", c=3)


def overlay(
    frames: np.ndarray, mask: torch.Tensor | np.ndarray, color=OVERLAY_COLOR, opacity: float = 0.5
) -> np.ndarray:
    """Tint ``frames`` (T, H, W, 3) uint8 where the mask (1, T, H, W) or (T, H, W) is on (soft masks blend),
    dim the rest to half and outline the mask (> 0.5) in white on black, so the region stays readable on
    any background, bright, dark or of the tint's own colour."""
    mask = torch.as_tensor(mask).detach().float().cpu().numpy()
    mask = np.clip(mask[0] if mask.ndim == 4 else mask, 0, 1)
    weight = (opacity * mask)[..., None]
    dim = 0.5 + 0.5 * mask[..., None]
    out = frames * dim * (1 - weight) + np.array(color, np.float32) * weight
    kernel = np.ones((3, 3), np.uint8)
    for t, m in enumerate((mask > 0.5).astype(np.uint8)):
        inside = m.astype(bool)
        out[t][inside & ~cv2.erode(m, kernel).astype(bool)] = 255  # the mask's own border pixels: white
        out[t][cv2.dilate(m, kernel).astype(bool) & ~inside] = 0  # the ring just outside: black
    return out.round().astype(np.uint8)


def flow_frames(flow: torch.Tensor | np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Flow (2, T, H, W) in pixels -> colour-wheel RGB uint8 (T, H, W, 3)."""
    flow = torch.as_tensor(flow).detach().float().cpu()
    return flow_to_color(rearrange(flow, "c t h w -> t h w c").numpy(), max_magnitude)


STREAMS = ("video", "background", "foreground", "mask")


def stream_frames(gen, index: int, stream: str) -> np.ndarray:
    """One sample's generator stream as RGB uint8 (T, H, W, 3); the background repeats over time."""
    if stream == "mask":
        return mask_frames(gen.mask[index])
    if stream == "background":
        still = to_uint8(rearrange(gen.background[index], "c h w -> c 1 h w"))
        return repeat(still, "1 h w c -> t h w c", t=gen.video.shape[2])
    if stream in ("video", "foreground"):
        return to_uint8(getattr(gen, stream)[index])
    raise ValueError(f"unknown stream {stream!r}; choose one of {STREAMS}")


# Flow pictures saturate at this share of the frame width per frame (1.6 px at 32x32): the embedded
# benchmark's objects move about 1 px per frame there, which the training targets' range (1/8 of
# the width) would show as nearly black.
FLOW_DISPLAY_FRACTION = 0.05


def discriminator_flow_frames(flow_pixels: torch.Tensor) -> tuple[np.ndarray, float]:
    """D's flow (2, T, H, W) in pixels per frame, colour-coded (T, H, W, 3) with full colour at its own
    99th-percentile magnitude over the clip (at least 0.05 px), and that magnitude. Its magnitudes are
    several times smaller than Farneback's, which are shown at ``FLOW_DISPLAY_FRACTION`` of the width:
    at that scale D's flow would be near black; at its own, its directions are visible."""
    flow = torch.as_tensor(flow_pixels).detach().float().cpu()
    limit = max(float(torch.quantile(flow.norm(dim=0).flatten(), 0.99)), 0.05)
    return flow_frames(flow, limit), limit


def stream_rows(gen, disc=None, index: int = 0) -> dict[str, np.ndarray]:
    """One sample's streams as named clips (T, H, W, 3): composite, background, foreground, mask,
    and, given the discriminator's output, its segmentation, its flow and the Farneback flow it is
    trained towards. The Farneback flow has full colour at ``FLOW_DISPLAY_FRACTION`` of the width,
    D's flow at its own scale (``discriminator_flow_frames``); each row's label states its scale."""
    from vosgan.data.flow import batch_flow

    rows = {name: stream_frames(gen, index, name) for name in STREAMS}
    if disc is not None:
        rows["D segmentation"] = mask_frames(disc.probability[index])
        limit = FLOW_DISPLAY_FRACTION * gen.video.shape[-1]
        d_flow, d_limit = discriminator_flow_frames(disc.flow_pixels[index])
        rows[f"D flow (full colour {d_limit:.2f} px)"] = d_flow
        rows[f"Farneback flow (full colour {limit:.1f} px)"] = flow_frames(
            batch_flow(gen.video[index : index + 1].float())[0], limit
        )
    return rows


PATH_COLOR = "#ffd700"  # the object's path drawn over frames


def rows_figure(
    rows: dict[str, np.ndarray],
    count: int | None = 8,
    title: str | None = None,
    width: float = 10,
    paths: dict[str, np.ndarray] | None = None,
    flow_key: bool = False,
):
    """Named clips (each (T, H, W, 3)) as labelled rows of frames, left to right in time. ``paths``:
    for some rows, the object's path (T, 2) pixels (x, y), NaN where absent (``object_paths``), drawn
    over each frame shown up to that frame. ``flow_key`` draws the flow colour wheel beside the title
    (hue = direction, brightness = speed)."""
    image = grid(list(rows.values()), count)
    fig, ax = plt.subplots(figsize=(width, max(1.2, width * image.shape[0] / image.shape[1]) + 0.4))
    ax.imshow(image)
    for r, (name, clip) in enumerate(rows.items()):
        if paths is None or name not in paths:
            continue
        t, h, w = clip.shape[:3]
        for k, frame in enumerate(pick_frames(t, count)):
            so_far = np.asarray(paths[name][: frame + 1], np.float32)
            x, y = so_far[:, 0] + k * (w + 1), so_far[:, 1] + r * (h + 1)
            ax.plot(x, y, color=PATH_COLOR, lw=1.2)
            ax.plot(x[-1:], y[-1:], "o", ms=3, mfc="none", mec=PATH_COLOR, mew=1)
    row_h = image.shape[0] / len(rows)
    ax.set_yticks([row_h * (i + 0.5) for i in range(len(rows))])
    ax.set_yticklabels(list(rows), fontsize=8)
    ax.set_xticks([])
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if flow_key:
        side = 0.06  # of the axes' width; the key sits square above its right end
        tall = side * image.shape[1] / image.shape[0]
        key = ax.inset_axes([1 - side, 1.005, side, tall])
        key.imshow(colour_wheel(64))
        key.set_title("flow key", fontsize=7)
        key.axis("off")
    return fig


def paths_figure(groups: dict[str, np.ndarray], size: int, backdrop: np.ndarray | None = None, title: str = ""):
    """One panel per group of object paths (N, T, 2) pixels (``object_paths``): each clip's path from
    its start (dot) to its end (arrow head), coloured by its index in the group (an interpolation's
    step), over ``backdrop`` (H, W, 3) uint8 when given."""
    fig, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 3.4), squeeze=False)
    for ax, (name, group) in zip(axes[0], groups.items()):
        if backdrop is not None:
            ax.imshow(backdrop, alpha=0.35, extent=(-0.5, size - 0.5, size - 0.5, -0.5))
        colours = plt.cm.viridis(np.linspace(0, 1, len(group)))
        for path, colour in zip(np.asarray(group, np.float32), colours):
            seen = path[~np.isnan(path).any(axis=1)]
            if len(seen) < 2:
                continue
            ax.plot(seen[:, 0], seen[:, 1], color=colour, lw=1.5)
            ax.plot(*seen[0], "o", color=colour, ms=4)
            ax.annotate("", xy=seen[-1], xytext=seen[-2], arrowprops={"arrowstyle": "->", "color": colour})
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def streams_figure(gen, disc=None, count: int | None = None, frames: int = 8, title: str | None = None):
    """For each of ``count`` samples, one row per stream (and D's maps when ``disc`` is given)."""
    rows = {}
    for i in range(count or gen.video.shape[0]):
        for name, clip in stream_rows(gen, disc, i).items():
            rows[f"{name} #{i}"] = clip
    return rows_figure(rows, frames, title)


def save_figure(fig, path: str | os.PathLike, dpi: int = 80, close: bool = True) -> Path:
    """Save a figure, creating the folder; ``close=False`` keeps it open so a notebook still shows it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    if close:
        plt.close(fig)
    return path


def save_streams_figure(gen, disc, path: str | os.PathLike, title: str | None = None) -> Path:
    return save_figure(streams_figure(gen, disc, title=title), path)


def animation(clips: list[np.ndarray], fps: int = 8, scale: float = 2.0, titles: list[str] | None = None):
    """A matplotlib animation of clips (each (T, H, W, 3)) playing side by side."""
    from matplotlib import animation as mpl_animation

    n, t = len(clips), len(clips[0])
    h, w = clips[0].shape[1:3]
    fig, axes = plt.subplots(1, n, figsize=(scale * n * w / 64, scale * h / 64 + (0.3 if titles else 0)), squeeze=False)
    images = []
    for i, ax in enumerate(axes[0]):
        images.append(ax.imshow(clips[i][0]))
        ax.axis("off")
        if titles:
            ax.set_title(titles[i], fontsize=8)

    def update(k):
        for im, clip in zip(images, clips):
            im.set_data(clip[k])
        return images

    anim = mpl_animation.FuncAnimation(fig, update, frames=t, interval=1000 / fps, blit=True)
    plt.close(fig)
    return anim


def animation_html(clips: list[np.ndarray], fps: int = 8, titles: list[str] | None = None) -> str:
    """HTML (JavaScript player) for inline display in JupyterLab: ``IPython.display.HTML(...)``."""
    return animation(clips, fps, titles=titles).to_jshtml()


def save_gif(clips: list[np.ndarray], path: str | os.PathLike, fps: int = 8) -> Path:
    """Clips side by side as an animated GIF (Pillow writer)."""
    from PIL import Image

    frames = [np.concatenate([c[k] for c in clips], axis=1) for k in range(len(clips[0]))]
    return save_gif_images([Image.fromarray(f) for f in frames], path, fps)


def save_gif_images(images: list, path: str | os.PathLike, fps: int = 8) -> Path:
    """PIL images as a looping animated GIF."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def label_font(size: int = 11):
    """A TrueType font for labels drawn into images (matplotlib's DejaVu Sans), PIL's default without it."""
    from matplotlib import font_manager
    from PIL import ImageFont

    try:
        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except OSError:
        return ImageFont.load_default()


def colour_wheel(side: int = 32) -> np.ndarray:
    """The flow colour key, RGB uint8 (side, side, 3): hue is the direction (right at the wheel's right,
    down at its bottom), brightness the speed, full at the rim."""
    centre = (side - 1) / 2
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    flow = np.stack([xs - centre, ys - centre], axis=-1) / centre
    wheel = flow_to_color(flow, 1.0)
    wheel[np.hypot(*np.moveaxis(flow, -1, 0)) > 1] = 255
    return wheel


def overlay_figure(frames: np.ndarray, maps: dict[str, np.ndarray], count: int = 6, title: str | None = None):
    """Fig. 6 style: one row per map (ground truth, each method), each frame tinted where the map is on."""
    return rows_figure({name: overlay(frames, m > 0) for name, m in maps.items()}, count, title)


def benchmark_rows(clips, max_magnitude: float | None = None) -> dict[str, np.ndarray]:
    """For each ``SyntheticClip``: its frames, the ground truth tinted red, and its Farneback flow."""
    from vosgan.data.flow import farneback

    rows = {}
    for i, c in enumerate(clips):
        rows[f"#{i} frames ({c.motion})"] = c.frames
        rows[f"#{i} ground truth"] = overlay(c.frames, c.masks > 0)
        rows[f"#{i} Farneback flow"] = flow_frames(rearrange(farneback(c.frames), "t h w c -> c t h w"), max_magnitude)
    return rows


def footage_figure(rows, title: str | None = None):
    """The real-footage gallery (``vosgan.experiments.segmentation.footage_gallery``): one row per clip, its frame,
    D's foreground probability, and the masks bilinear and refined, each with the share of the clip's
    pixels it calls foreground."""
    fig, axes = plt.subplots(len(rows), 4, figsize=(12, 2.6 * len(rows)), squeeze=False)
    for ax_row, r in zip(axes, rows):
        probability = cv2.resize(r.probability, r.frame.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        panels = [
            (r.frame, r.name),
            (mask_frames(probability[None, None])[0], f"D's map ({r.probability.shape[0]} px high)"),
            (overlay(r.frame[None], r.plain[None])[0], f"mask, bilinear ({100 * r.foreground['none']:.0f} % fg)"),
            (overlay(r.frame[None], r.refined[None])[0], f"mask, {r.refine} ({100 * r.foreground[r.refine]:.0f} % fg)"),
        ]
        for ax, (image, label) in zip(ax_row, panels):
            ax.imshow(image)
            ax.set_title(label, fontsize=9)
            ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
