"""The peer methods, written from their papers: CIS (unsupervised) and FaSTGAN (semi-supervised)."""
