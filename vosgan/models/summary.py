"""Layer tables and FLOP counts, side by side with the paper's Tables 1-2.

``PAPER_TABLES`` transcribes each row's output shape as the paper prints it, (C, H, W, T); the
summary reports ours in (C, T, H, W) and ``paper_shape`` converts, so tests and the architecture
notebook compare row by row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vosgan.models.blocks import ConvRow, ResidualBlock3d

_RES = "3D Residual Block"
_R128, _R256, _R64 = (128, 16, 16, 8), (256, 8, 8, 4), (64, 32, 32, 16)

# (table row name, output shape (C, H, W, T) as printed in the paper)
PAPER_TABLES: dict[str, list[tuple[str, tuple[int, ...]]]] = {
    "generator": [
        ("Bkg ConvTran2D", (512, 4, 4)),
        ("Bkg ConvTran2D", (256, 8, 8)),
        ("Bkg ConvTran2D", (128, 16, 16)),
        ("Bkg ConvTran2D", (64, 32, 32)),
        ("Bkg ConvTran2D (tanh)", (3, 64, 64)),
        ("RNN(zM)", (100,)),
        ("Motion ConvTran3D", (512, 4, 4, 2)),
        ("Motion ConvTran3D", (256, 8, 8, 4)),
        ("Motion ConvTran3D", _R128),
        ("Fg Conv3D 1x1x1", _R128),
        *[(_RES, _R128)] * 9,
        ("Fg ConvTran3D", _R64),
        ("Fg raw ConvTran3D (tanh)", (3, 64, 64, 32)),
        ("Fg mask ConvTran3D (sigmoid)", (1, 64, 64, 32)),
    ],
    "discriminator": [
        ("Shared Conv3D", _R64),
        ("Shared Conv3D", _R128),
        *[(_RES, _R128)] * 3,
        ("Shared Conv3D", _R256),
        *[(_RES, _R256)] * 3,
        ("Shared Conv3D", (512, 9, 9, 5)),
        ("Motion ConvTran3D", _R256),
        ("Motion ConvTran3D", _R128),
        *[(_RES, _R128)] * 3,
        ("Motion ConvTran3D", _R64),
        *[(_RES, _R64)] * 3,
        ("Motion ConvTran3D (seg + flow)", (3, 64, 64, 32)),
        ("Discr. Conv3D", (1024, 4, 4, 2)),
        ("Discr. Conv3D (2-way softmax)", (2, 1, 1, 1)),
    ],
}


def paper_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The paper's (C, H, W, T) -> our (C, T, H, W); 2D and 1D shapes are unchanged."""
    return (shape[0], shape[3], shape[1], shape[2]) if len(shape) == 4 else shape


@dataclass
class LayerRow:
    name: str  # module path, e.g. 'background_stream.0'
    kind: str  # e.g. 'ConvTranspose3d k(3, 3, 3) s(3, 3, 3) p(1, 2, 2)'
    shape: tuple[int, ...]  # output shape without the batch axis, (C, T, H, W) for video
    params: int


def _describe(module: nn.Module) -> str:
    if isinstance(module, ConvRow):
        *first, conv = [m for m in module if isinstance(m, nn.Upsample | nn.modules.conv._ConvNd)]
        act = type(module[-1]).__name__
        bn = " +BN" if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module) else ""
        up = "Upsample x2 + " if first else ""
        return f"{up}{type(conv).__name__} k{conv.kernel_size} s{conv.stride} p{conv.padding}{bn} {act}"
    if isinstance(module, ResidualBlock3d):
        bn = "BN" if isinstance(module.body[0][1], nn.modules.batchnorm._BatchNorm) else "no BN"
        return f"ResidualBlock3d 3x3x3 ({bn})"
    return type(module).__name__


def layer_table(model: nn.Module, *inputs: torch.Tensor) -> list[LayerRow]:
    """One row per table row (conv rows, residual blocks, the LSTM), in execution order."""
    rows: list[LayerRow] = []
    handles, prefixes = [], []
    for name, module in model.named_modules():
        if isinstance(module, (ConvRow, ResidualBlock3d, nn.LSTM)) and not any(
            name.startswith(p + ".") for p in prefixes
        ):
            prefixes.append(name)

            def hook(mod, args, output, name=name):
                out = output[1][0][-1] if isinstance(mod, nn.LSTM) else output  # LSTM: final hidden state
                params = sum(p.numel() for p in mod.parameters())
                rows.append(LayerRow(name, _describe(mod), tuple(out.shape[1:]), params))

            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model.eval()(*inputs)
    finally:
        for h in handles:
            h.remove()
    return rows


def count_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Forward FLOPs (2 x multiply-adds) of convolutions, transposed convolutions and LSTMs.

    Batch norm, activations and the composition are a few FLOPs per element and are left out.
    """
    total = 0
    handles = []

    def conv_hook(mod, args, output):
        nonlocal total
        k = math.prod(mod.kernel_size)
        if isinstance(mod, (nn.ConvTranspose2d, nn.ConvTranspose3d)):
            total += 2 * args[0].numel() * (mod.out_channels // mod.groups) * k
        else:
            total += 2 * output.numel() * (mod.in_channels // mod.groups) * k

    def lstm_hook(mod, args, output):
        nonlocal total
        b, t = args[0].shape[:2]
        total += 2 * b * t * 4 * (mod.input_size * mod.hidden_size + mod.hidden_size**2)

    def upsampled_hook(row, args, output):  # its convolution runs inside the row (upsampled_conv3d)
        conv_hook(row[1], args, output)

    for m in model.modules():
        if isinstance(m, ConvRow) and m.upsampled_3d:
            handles.append(m.register_forward_hook(upsampled_hook))
        elif isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.LSTM):
            handles.append(m.register_forward_hook(lstm_hook))
    try:
        with torch.no_grad():
            model.eval()(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def compare_with_paper(rows: list[LayerRow], network: str) -> list[dict]:
    """Our rows next to the paper's (for the paper preset): name, kind, ours, paper's, match."""
    paper = PAPER_TABLES[network]
    out = []
    for i, row in enumerate(rows):
        p_name, p_shape = paper[i] if i < len(paper) else ("-", ())
        ours = row.shape
        out.append(
            {
                "row": p_name,
                "layer": row.kind,
                "ours (C,T,H,W)": ours,
                "paper (C,H,W,T)": p_shape,
                "params": row.params,
                "match": paper_shape(p_shape) == ours,
            }
        )
    return out


def comparison_text(rows: list[dict]) -> str:
    """``compare_with_paper`` rows as an aligned text table."""
    fmt = lambda shape: "x".join(map(str, shape)) if shape else "-"
    lines = [f"{'paper row':<30} {'ours (C,T,H,W)':<16} {'paper (C,H,W,T)':<16} {'params':>10}  match  layer"]
    for r in rows:
        lines.append(
            f"{r['row']:<30} {fmt(r['ours (C,T,H,W)']):<16} {fmt(r['paper (C,H,W,T)']):<16} "
            f"{r['params']:>10,}  {'yes' if r['match'] else 'NO':<5}  {r['layer']}"
        )
    return "\n".join(lines)
