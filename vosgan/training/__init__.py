"""Training: the losses (Eq. 2-3), augmentations, the one training loop, the GAN trainer, run folders, fine-tuning."""
