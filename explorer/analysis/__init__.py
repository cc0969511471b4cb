"""Analyses of the models that the views show: predictions and metrics, activations, spectra, receptive fields."""
