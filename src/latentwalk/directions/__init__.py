"""Directions in latent space: named axes found by PCA (GANSpace), fitted to image features or
classifier scores (TL-GAN / InterFaceGAN), or taught by example; stored per model."""
