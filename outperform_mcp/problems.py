"""The failures a person starting the server can fix: a setting, a file, a port, the database.

The CLI prints such a failure as one line and exits with 2, no traceback. The base class lives
here, importing nothing, so reporting a mistake costs no import of the server (about 0.5 s of a
start-up that was about to fail anyway).
"""

from __future__ import annotations


class StartProblem(Exception):
    """Subclasses say what is wrong and what to do instead."""
