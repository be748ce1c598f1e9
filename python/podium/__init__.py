"""podium: a Kubernetes secondary scheduler for large GPU clusters."""

from podium._core import __version__

__all__ = ["__version__"]
