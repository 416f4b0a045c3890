"""The two latent spaces of a trained generator: interpolations, contrasts and the JupyterLab explorer."""
