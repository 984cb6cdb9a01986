"""Entry point of the Claude Desktop bundle: ``uv run server.py`` in the unpacked bundle, whose
``pyproject.toml`` makes uv install this package and its dependencies first."""

from outperform_mcp.cli import main

raise SystemExit(main())
