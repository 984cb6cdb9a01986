"""Contacts toolset: find, read and create CRM contacts and labels.

The package imports none of its modules: start-up lists them from the catalogue and each is
imported on the first call that needs it (see ``server/catalogue.py``)."""
