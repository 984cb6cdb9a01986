"""SQL toolset: read-only SQL over the mirror's documented views (tool and the views resource).

The package imports none of its modules: start-up lists them from the catalogue and each is
imported on the first call that needs it (see ``server/catalogue.py``)."""
