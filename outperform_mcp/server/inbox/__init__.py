"""Inbox toolset: inbound WhatsApp replies as they arrive (tools and resources over ``InboxService``).

The package imports none of its modules: start-up lists them from the catalogue and each is
imported on the first call that needs it (see ``server/catalogue.py``)."""
