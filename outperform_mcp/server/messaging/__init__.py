"""Messaging toolset: sends (each approved by a human), the approval flow and page, the send log,
the template catalogue and campaigns.

The package imports none of its modules: start-up lists them from the catalogue and each is
imported on the first call that needs it (see ``server/catalogue.py``)."""
