"""The columns of a run's metric history: metrics.csv's header, a checkpoint's curves, the
window's history (no imports: every layer reads it)."""

# A snapshot's figures as one row of a run's history (metrics.csv, a checkpoint's curves).
# A figure a snapshot lacks (no held-out evaluation at that row) is NaN in a row.
METRICS_COLUMNS = (
    "step",
    "epoch",
    "wall_time_s",
    "images_per_s",
    "loss",
    "recon",
    "kl",
    "beta",
    "learning_rate",
    "heldout_elbo",
)
