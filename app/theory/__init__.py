"""The theory made visible for the model on show: the true posterior and importance samples on
the map, the ELBO identity, the gradient estimators, the aggregate posterior, rate and
distortion."""
