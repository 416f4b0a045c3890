"""The VOS-GAN networks."""

from vosgan.models.discriminator import Discriminator, DiscriminatorOutput
from vosgan.models.generator import Generator, GeneratorOutput

__all__ = ["Discriminator", "DiscriminatorOutput", "Generator", "GeneratorOutput"]
