"""Action recognition from the discriminator (journal paper, Sect. 4.5, Tables 9-12).

Two protocols on the discriminator's shared encoder (its real/fake head removed):
* transfer learning: a linear softmax classifier on the encoder's pooled features, encoder frozen;
* fine-tuning: the same classifier and the whole encoder trained together.
Datasets: the embedded benchmark with its motion kinds as actions (offline default), Weizmann
(leave-persons-out split) and UCF101 (official split lists), all through the kit's readers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vosgan.data.clips import resize_frames, to_tensor
from vosgan.metrics.networks import temporal_resample
from vosgan.training.recalibrate import precise_batchnorm


@dataclass
class LabelledVideos:
    """Clips (N, 3, T, H, W) in [-1, 1], labels (N,) indexing ``classes``."""

    video: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def benchmark(cls, count: int, split: str, frames: int, size: int, seed: int = 0) -> LabelledVideos:
        """The ``split`` clips of the embedded ``count``-clip benchmark, labelled by the first object's motion kind."""
        from vosgan.data.synthetic import MOTION_KINDS, make_benchmark

        clips = make_benchmark(count, frames, size, seed, split=split)
        video = torch.stack([to_tensor(c.frames) for c in clips])
        classes = tuple(k for k in MOTION_KINDS if k != "still")  # the first object always moves
        labels = torch.tensor([classes.index(c.motion) for c in clips])
        return cls(video, labels, classes)

    @classmethod
    def sequences(cls, sequences, frames: int, size: int, classes: tuple[str, ...] | None = None) -> LabelledVideos:
        """Labelled ``Sequence`` objects (Weizmann, UCF101 readers): ``frames`` frames spread over each
        video, resized to ``size`` x ``size``; ``classes`` fixes the label order (default: sorted labels)."""
        classes = classes or tuple(sorted({s.label for s in sequences}))
        videos, labels = [], []
        for s in sequences:
            if s.label is None:
                raise ValueError(f"sequence {s.name} has no label: action recognition needs a labelled dataset")
            raw = s.read_frames()
            picked = raw[temporal_resample(len(raw), frames)]
            videos.append(to_tensor(resize_frames(picked, size)))
            labels.append(classes.index(s.label))
        return cls(torch.stack(videos), torch.tensor(labels), classes)


def weizmann_split(sequences, test_people: int = 3):
    """Leave-persons-out: the last ``test_people`` people (sorted by name) are the test set."""
    people = sorted({s.name.split("_", 1)[0] for s in sequences})
    test = set(people[-test_people:])
    return [s for s in sequences if s.name.split("_", 1)[0] not in test], [
        s for s in sequences if s.name.split("_", 1)[0] in test
    ]


class ActionClassifier(nn.Module):
    """The discriminator's shared encoder, global average pooling, feature standardisation
    (BatchNorm1d without affine terms) and a linear softmax layer."""

    def __init__(self, discriminator, classes: int):
        super().__init__()
        self.encoder = copy.deepcopy(discriminator.shared)
        with torch.no_grad():
            channels = self.encoder.eval()(torch.zeros(1, 3, 8, 32, 32)).shape[1]
        self.norm = nn.BatchNorm1d(channels, affine=False)
        self.head = nn.Linear(channels, classes)

    def features(self, video: torch.Tensor) -> torch.Tensor:
        return self.encoder(video).float().mean((2, 3, 4))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.features(video)))


@torch.no_grad()
def accuracy(model: ActionClassifier, data: LabelledVideos, batch: int = 64) -> float:
    model.eval()
    pred = torch.cat([model(data.video[i : i + batch]).argmax(1) for i in range(0, len(data), batch)])
    return float((pred == data.labels).float().mean())


@torch.no_grad()
def _standardise(model: ActionClassifier, data: LabelledVideos, batch: int = 64) -> torch.Tensor:
    """Set ``model.norm`` to the mean and variance of ``data``'s frozen features; return the features."""
    feats = torch.cat([model.features(data.video[i : i + batch]) for i in range(0, len(data), batch)])
    model.norm.running_mean.copy_(feats.mean(0))
    model.norm.running_var.copy_(feats.var(0, unbiased=False) + 1e-12)
    return feats


def recognise(
    discriminator,
    train: LabelledVideos,
    test: LabelledVideos,
    mode: str = "transfer",
    steps: int = 300,
    batch: int = 32,
    seed: int = 0,
) -> float:
    """Test accuracy of ``mode`` 'transfer' (encoder frozen; a linear softmax layer on its standardised
    pooled features, Adam lr 1e-2) or 'finetune' (encoder lr 1e-4 and layer lr 1e-3 together) after
    ``steps`` Adam steps of ``batch`` clips of ``train``."""
    if mode not in ("transfer", "finetune"):
        raise ValueError(f"unknown mode {mode!r}; choose 'transfer' or 'finetune'")
    torch.manual_seed(seed)
    model = ActionClassifier(discriminator, len(train.classes))
    rng = torch.Generator().manual_seed(seed)
    if mode == "transfer":
        model.eval()
        feats = model.norm(_standardise(model, train))
        params = [{"params": model.head.parameters(), "lr": 1e-2}]
        logits = lambda pick: model.head(feats[pick])  # noqa: E731
    else:
        model.train()
        params = [{"params": model.encoder.parameters(), "lr": 1e-4}, {"params": model.head.parameters(), "lr": 1e-3}]
        logits = lambda pick: model(train.video[pick])  # noqa: E731
    opt = torch.optim.Adam(params)
    for _ in range(steps):
        pick = torch.randint(len(train), (min(batch, len(train)),), generator=rng)
        loss = F.cross_entropy(logits(pick), train.labels[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if mode == "finetune":
        precise_batchnorm(model, (train.video[i : i + 32] for i in range(0, len(train), 32)))
    return accuracy(model, test)


def compare_discriminators(
    discriminators: dict,
    train: LabelledVideos,
    test: LabelledVideos,
    seeds=(0, 1, 2),
    modes=("transfer", "finetune"),
    steps: int = 300,
) -> list[dict]:
    """Rows (discriminator, mode, accuracy mean and std over ``seeds``, chance) for each named discriminator."""
    rows = []
    for name, disc in discriminators.items():
        for mode in modes:
            acc = [recognise(disc, train, test, mode, steps, seed=s) for s in seeds]
            rows.append(
                {
                    "discriminator": name,
                    "mode": mode,
                    "accuracy": float(np.mean(acc)),
                    "std": float(np.std(acc)),
                    "seeds": len(seeds),
                    "chance": 1 / len(train.classes),
                }
            )
    return rows
