"""listener: a self-hosted social listening and sentiment monitor."""

__version__ = "0.1.0"
