"""Insights toolset: questions about the whole account answered from the local mirror (tools and resources).

The package imports none of its modules: start-up lists them from the catalogue and each is
imported on the first call that needs it (see ``server/catalogue.py``)."""
