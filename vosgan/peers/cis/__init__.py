"""CIS: unsupervised moving-object detection by contextual information separation (Yang et al., CVPR
2019; ``shared/papers/cis-contextual-information-separation.txt``), on the kit's data and flow.

A mask generator chi (image + optical flow -> foreground probability) and an inpainter phi (image +
flow outside a region + the region -> flow inside it) play Eq. 10: the inpainter minimises, and the
generator maximises, the normalised reconstruction error of Eq. 7/9, each region's flow predicted
from the other's. No labels anywhere.

Differences from the paper, all forced by the kit's scale: flow is the kit's Farneback pipeline (the
paper used PWC-Net); the networks are the paper's layouts at 64x64 with a few channels (its 3.4 M and
1.5 M parameters shrunk about 30-fold); the paper's CRF post-processing is optional and off by default
(``vosgan segment --refine crf``, ``vosgan.segmentation.refine``). Eq. 7 is
symmetric in the region and its complement, so which side the generator calls foreground is an
accident of training; at test time the kit keeps the side that covers less of the video
(``polarity='smaller'``), a label-free rule.
"""

from vosgan.peers.cis.config import METHOD, PRESETS, CISConfig, cis_config
from vosgan.peers.cis.losses import flip_rewards, inpaint_both, normalise_flow, separation_loss
from vosgan.peers.cis.networks import Context, Inpainter, MaskGenerator
from vosgan.peers.cis.segmenter import CISSegmenter, ideal_conditions
from vosgan.peers.cis.training import CISTrainer, ideal_flow, sample_batch

__all__ = [
    "CISConfig",
    "CISSegmenter",
    "CISTrainer",
    "Context",
    "Inpainter",
    "METHOD",
    "MaskGenerator",
    "PRESETS",
    "cis_config",
    "flip_rewards",
    "ideal_conditions",
    "ideal_flow",
    "inpaint_both",
    "normalise_flow",
    "sample_batch",
    "separation_loss",
]
