"""Training: the steppable trainer, its optimizer and the β schedules."""
