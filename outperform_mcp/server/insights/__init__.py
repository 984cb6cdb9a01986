"""Insights toolset: questions about the whole account answered from the local mirror (tools and resources)."""

from . import resources, tools

__all__ = ["resources", "tools"]
