"""Which messaging tools the configured approval mode offers.

Apart from ``tools.py`` so that ``build_server`` can ask at start without importing the
messaging toolset (it is imported on its first call)."""

from __future__ import annotations

from ...guard.service import SendService


def hidden_tools(service: SendService) -> tuple[str, ...]:
    """Tools this configuration does not offer: commit_send exists only in host mode."""
    return () if service.mode == "host" else ("commit_send",)
