"""``python -m outperform_mcp``: the same as the ``outperform-mcp`` console script."""

from .cli import main

raise SystemExit(main())
