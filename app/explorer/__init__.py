"""The latent explorer: the latent map, the decoded view and the explorer's pages."""

from app.explorer.explorer import LatentExplorer

__all__ = ["LatentExplorer"]
