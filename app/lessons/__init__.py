"""Lessons: step-by-step tours that set up the window and say what the screen shows."""
