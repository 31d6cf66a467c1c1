"""The seed made visible: views that draw the theory of variational autoencoders for the model on
show (the true posterior, importance samples, the ELBO identity, the gradient estimators, the
aggregate posterior, rate and distortion), the runs compared side by side, and lessons."""
