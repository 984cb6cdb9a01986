"""A faithful in-memory emulator of the OutPerform Conversation API (see `app` and `runner`)."""

from .app import BASE_PATH, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, create_emulator
from .runner import EmulatorServer
from .state import EmulatorState, SampleContacts
from .templates import TEMPLATES_PATH, load_templates, render_template, split_parameters

__all__ = [
    "BASE_PATH",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "TEMPLATES_PATH",
    "Emulator",
    "EmulatorServer",
    "EmulatorState",
    "SampleContacts",
    "create_emulator",
    "load_templates",
    "render_template",
    "split_parameters",
]
