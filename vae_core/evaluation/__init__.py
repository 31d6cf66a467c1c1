"""Evaluation: ELBO and importance-sampled estimates, one input's gaps, metrics of codes."""
