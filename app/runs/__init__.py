"""Runs side by side: the Runs list, its run folders, and the Compare runs page."""
