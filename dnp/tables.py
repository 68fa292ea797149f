"""Every area's table models, imported once so that ``SQLModel.metadata`` holds all tables.

Alembic (``migrations/env.py``), ``create_all`` in the tests and the migration check read the metadata;
the areas import only the models they use.
"""

from dnp.audit import models as audit_models
from dnp.auth import models as auth_models
from dnp.connection import models as connection_models
from dnp.delivery import models as delivery_models
from dnp.delivery.push import models as push_models
from dnp.groups import models as groups_models
from dnp.publication import models as publication_models
from dnp.register import models as register_models
from dnp.ss12000 import models as ss12000_models

AREA_MODELS = (
    register_models,
    groups_models,
    publication_models,
    ss12000_models,
    delivery_models,
    push_models,
    connection_models,
    auth_models,
    audit_models,
)
