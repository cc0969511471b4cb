"""U-Net Explorer: why diffusion models use a U-Net, shown on real trained models."""
