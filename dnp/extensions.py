"""Flask extensions, created unbound and initialised in the factory."""

from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

csrf = CSRFProtect()
htmx = Htmx()
