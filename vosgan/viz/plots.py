"""Plots of results: training curves with the alpha schedule, and the annotation-efficiency curve (Fig. 7)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def smooth(values, window: int) -> np.ndarray:
    """Trailing moving average (``window`` steps), same length as ``values``."""
    values = np.asarray(values, float)
    if window <= 1 or len(values) < 2:
        return values
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumsum[1:] - cumsum[np.maximum(0, np.arange(1, len(values) + 1) - window)]) / counts


def training_figure(rows: list[dict], window: int = 25):
    """Three panels: adversarial losses (Eq. 2-3), the self-supervised terms, and alpha with D's scores."""
    steps = [r["step"] for r in rows]
    moves = "motion_travel" in rows[0]
    fig, axes = plt.subplots(1, 4 if moves else 3, figsize=(18 if moves else 14, 3.6))
    panels = [
        (("d_adversarial", "D adversarial"), ("g_loss", "G (Eq. 3)")),
        (
            ("d_segmentation", "D segmentation NLL"),
            ("d_flow_fake", "D flow, generated"),
            ("d_flow_real", "D flow, real"),
        ),
        (("real_score", "D(x) real"), ("fake_score", "D(G(z))"), ("mask_mean", "mean mask m(z)")),
    ]
    for ax, panel in zip(axes, panels):
        for key, label in panel:
            ax.plot(steps, smooth([r[key] for r in rows], window), label=label)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    axes[1].set_yscale("log")
    alpha_ax = axes[2].twinx()
    alpha_ax.plot(steps, [r["alpha"] for r in rows], "k--", label="alpha")
    alpha_ax.set_ylabel("alpha (flow weight)")
    axes[0].set_title("adversarial terms")
    axes[1].set_title("self-supervision (Eq. 2)")
    axes[2].set_title("scores and the alpha schedule")
    fig.tight_layout()
    return fig


def evaluation_figure(rows: list[dict]):
    """The real-clip evaluation of a run (``evaluation.jsonl`` rows): val J with the same clips frozen
    in time and the label-free baselines; the flow head's error against predicting no motion; and how
    much each latent space moves the mask."""
    steps = [r["step"] for r in rows]
    moves = "motion_travel" in rows[0]
    fig, axes = plt.subplots(1, 4 if moves else 3, figsize=(18 if moves else 14, 3.6))
    ax = axes[0]
    ax.plot(steps, [r["J"] for r in rows], "o-", label="D, val clips")
    ax.plot(steps, [r["J_frozen"] for r in rows], "o--", label="D, same clips frozen in time")
    for key, label in (
        ("J_flow_baseline", "flow-magnitude baseline"),
        ("J_median_baseline", "temporal-median baseline"),
    ):
        if key in rows[0]:
            ax.axhline(rows[0][key], ls=":", color="grey" if "flow" in key else "black", label=label)
    ax.set_title("segmentation of real clips (J)")
    ax = axes[1]
    ax.plot(steps, [r["flow_epe"] for r in rows], "o-", label="D's flow")
    ax.plot(steps, [r["flow_epe_zero"] for r in rows], "k:", label="predicting zero flow")
    ax.set_title("flow end-point error, real clips (px)")
    ax = axes[2]
    for key, label in (
        ("zm_mask", "mask along z_M"),
        ("zc_mask", "mask along z_C"),
        ("zc_background", "background along z_C"),
    ):
        if key in rows[0]:
            ax.plot(steps, [r[key] for r in rows], "o-", label=label)
    ax.set_title("latent effects (mean |change|)")
    if moves:  # how the generator's objects move (vosgan.metrics.masks.motion_report)
        ax = axes[3]
        ax.plot(steps, [r["motion_travel"] for r in rows], "o-", label="net travel, px/frame")
        ax.axhline(rows[0]["motion_data_travel"], ls=":", color="C0", label="the data's net travel")
        ax.plot(steps, [r["motion_swelling"] for r in rows], "o-", color="C3", label="share swelling > 3x")
        ax.axhline(rows[0]["motion_data_swelling"], ls=":", color="C3", label="the data's share")
        ax.set_title(f"G's objects (z_M/z_C contrast at the end: {rows[-1]['motion_latent_contrast']:.1f})")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def annotation_curve(curve: list[dict]):
    """J-Mean and F-Mean against the share of training annotations, per method (Fig. 7)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharex=True)
    for ax, key in zip(axes, ("J-Mean", "F-Mean")):
        for method in dict.fromkeys(r["setting"] for r in curve):
            pts = sorted((r["fraction"], r[key], r.get(f"{key} std", 0.0)) for r in curve if r["setting"] == method)
            seeds = max(r.get("seeds", 1) for r in curve if r["setting"] == method)
            label = f"{method} (mean +- std of {seeds} seeds)" if seeds > 1 else f"{method} (1 seed)"
            ax.errorbar(
                [100 * f for f, _, _ in pts],
                [100 * v for _, v, _ in pts],
                yerr=[100 * e for _, _, e in pts],
                fmt="o-",
                capsize=3,
                label=label,
            )
        ax.set_xlabel("training annotations used (%)")
        ax.set_ylabel(f"{key} (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def table_figure(rows: list[dict], keys=("J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"), title=None):
    """A results table (percent) drawn as a figure, for the figure set."""
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 0.8))
    ax.axis("off")
    cells = [[f"{100 * r[k]:.1f}" for k in keys] for r in rows]
    table = ax.table(cellText=cells, rowLabels=[r["setting"] for r in rows], colLabels=list(keys), loc="center")
    table.scale(1, 1.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def slerp_figure(steps: int = 9):
    """SLERP and LERP between two points of a circle: SLERP stays on it at constant speed."""
    import torch

    from vosgan.models.latent import lerp, slerp

    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[-0.3, 0.95]])
    b = b / b.norm()
    t = torch.linspace(0, 1, steps)
    fig, ax = plt.subplots(figsize=(4, 4))
    circle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(circle), np.sin(circle), color="0.8")
    for path, style, label in ((slerp(a, b, t)[0], "o-", "SLERP"), (lerp(a, b, t)[0], "s--", "LERP")):
        ax.plot(path[:, 0], path[:, 1], style, label=label)
    ax.set_aspect("equal")
    ax.legend()
    ax.set_title("interpolating between two latent points")
    return fig


def generation_figure(rows: list[dict]):
    """Table 4 as bars: each row's ``scores`` ({metric: GenerationScore dict}) with +- std over sets."""
    metrics = [m for m in ("FID", "IS", "FCD", "MC") if m in rows[0]["scores"]]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.4))
    names = [r["row"] for r in rows]
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        mean = [r["scores"][metric]["mean"] for r in rows]
        std = [r["scores"][metric]["std"] for r in rows]
        ax.bar(range(len(rows)), mean, yerr=std, capsize=3, color="tab:blue")
        ax.set_xticks(range(len(rows)), names, rotation=45, ha="right", fontsize=8)
        better = "higher" if metric == "IS" else "lower"
        ax.set_title(f"{metric} ({better} is better)")
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Table 4 ablation, kit features (not comparable with published scores)", fontsize=10)
    fig.tight_layout()
    return fig


def actions_figure(rows: list[dict]):
    """Action-recognition accuracy per discriminator and protocol (``representation.compare_discriminators`` rows)."""
    names = list(dict.fromkeys(r["discriminator"] for r in rows))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(names), 3.4))
    width = 0.8 / len(modes)
    for j, mode in enumerate(modes):
        sel = {r["discriminator"]: r for r in rows if r["mode"] == mode}
        ax.bar(
            [i + j * width for i in range(len(names))],
            [100 * sel[n]["accuracy"] for n in names],
            width,
            yerr=[100 * sel[n]["std"] for n in names],
            capsize=3,
            label=mode,
        )
    ax.axhline(100 * rows[0]["chance"], color="grey", ls=":", label="chance")
    ax.set_xticks([i + width * (len(modes) - 1) / 2 for i in range(len(names))], names)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("action recognition from the discriminator (cf. Tables 9-12)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def unlabeled_curve_figure(curve):
    """J and F on the test split against the share of unlabeled training videos, with least-squares lines (Fig. 8)."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    x = np.array([r["fraction"] for r in curve.rows])
    for key, colour in (("J", "tab:blue"), ("F", "tab:orange")):
        ax.plot(100 * x, [100 * r[key] for r in curve.rows], "o", color=colour, label=key)
        slope, intercept = curve.line(key)
        ax.plot(100 * x, 100 * (slope * x + intercept), "-", color=colour, alpha=0.6)
    ax.set_xlabel("unlabeled training videos (% of the pool)")
    ax.set_ylabel("test score (%)")
    ax.set_title("more unlabeled video (cf. Fig. 8)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
