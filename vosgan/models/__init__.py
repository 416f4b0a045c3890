"""The VOS-GAN networks (Tables 1-2), their latent trajectories, the sampler and the one checkpoint format."""

from vosgan.models.discriminator import Discriminator, DiscriminatorOutput
from vosgan.models.generator import Generator, GeneratorOutput

__all__ = ["Discriminator", "DiscriminatorOutput", "Generator", "GeneratorOutput"]
