"""SQL toolset: read-only SQL over the mirror's documented views (tool and the views resource)."""

from . import resources, tools

__all__ = ["resources", "tools"]
