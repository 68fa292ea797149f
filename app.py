"""WSGI entry point: ``gunicorn app:app`` and ``flask --app app …``."""

import gc

from dnp import create_app

app = create_app()
# What is loaded by now lives as long as the worker. Frozen, it stays out of the garbage collector's
# full collections, which otherwise scan it all (~120,000 objects) and add 100+ ms to some requests.
gc.collect()
gc.freeze()
