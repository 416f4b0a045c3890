"""vosgan: VOS-GAN, a video GAN whose discriminator becomes an unsupervised video object segmenter."""

__version__ = "0.1.0"
