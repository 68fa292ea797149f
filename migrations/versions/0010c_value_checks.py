"""value checks: statuses, roles, kinds and organisation types only take their known values

Revision ID: 0010c
Revises: 0009p
Create Date: 2026-12-01

A CHECK per column that holds one of a fixed set of values (the ``StrEnum``s next to the models, written
out here by value: a migration must not change when an enum does). Every writer already writes only
these values (register input is checked against the code lists); should a row still hold another value,
the upgrade stops before changing anything and names the table and column, instead of failing halfway.

Not checked: Skolverket's per-object push statuses (``push_object.status``, ``push_answer.status``)
store what Skolverket answers, and an unknown answer must not break a poll.

SQLite rebuilds each table (batch mode); ``migrations/env.py`` turns foreign keys off while migrating
so that dropping the old copy does not cascade into the rows that reference it.
"""

import warnings

from alembic import op
import sqlalchemy as sa

revision = '0010c'
down_revision = '0009p'
branch_labels = None
depends_on = None

# table -> column -> allowed values
CHECKS = {
    'organisation': {'organisation_type': ('Huvudman', 'Skolenhet')},
    'test_group': {'status': ('draft', 'ready', 'withdrawn')},
    'test_group_member': {'role': ('pupil', 'staff'), 'origin': ('register', 'manual')},
    'background_task': {
        'kind': ('catalog_refresh', 'bulk_create'),
        'status': ('queued', 'running', 'done', 'failed'),
    },
    'published_entity': {'resource': ('Organisation', 'Person', 'Group', 'Duty', 'Activity')},
    'deleted_entity': {'resource': ('Organisation', 'Person', 'Group', 'Duty', 'Activity')},
    'outbox': {
        'resource': ('Organisation', 'Person', 'Group', 'Duty', 'Activity'),
        'change': ('created', 'modified', 'deleted'),
    },
    'delivery': {'status': ('pending', 'in_flight', 'delivered', 'dead', 'cancelled')},
    'push_batch': {
        'status': ('new', 'polling', 'done', 'split', 'abandoned'),
        'action': ('upsert', 'delete'),
    },
    'push_object': {'sent_action': ('upsert', 'delete', '')},
    'client_credential': {'source': ('generated', 'uploaded')},
    'role_grant': {'role': ('central_admin', 'unit_admin', 'operator')},
    'login_session': {'method': ('saml', 'dev')},
}


def _allowed(values: tuple[str, ...]) -> str:
    return ', '.join(f"'{value}'" for value in values)


def _refuse_unknown_values() -> None:
    connection = op.get_bind()
    found = []
    for table, columns in CHECKS.items():
        for column, values in columns.items():
            count = connection.execute(
                sa.text(f'SELECT count(*) FROM {table} WHERE {column} NOT IN ({_allowed(values)})')
            ).scalar_one()
            if count:
                found.append(f'{table}.{column}: {count} rows')
    if found:
        raise RuntimeError('Values outside the known sets, fix them before upgrading: ' + '; '.join(found))


# SQLite's batch mode reflects the tables a rebuilt one refers to, person among them, and SQLAlchemy says
# it cannot reflect person's expression index (lower(eppn)). Person itself is not rebuilt: the index stays.
REFLECTION_NOTE = 'Skipped unsupported reflection of expression-based index'


def upgrade() -> None:
    _refuse_unknown_values()
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message=REFLECTION_NOTE)
        for table, columns in CHECKS.items():
            with op.batch_alter_table(table) as batch_op:
                for column, values in columns.items():
                    batch_op.create_check_constraint(f'ck_{table}_{column}', f'{column} IN ({_allowed(values)})')


def downgrade() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message=REFLECTION_NOTE)
        for table, columns in reversed(CHECKS.items()):
            with op.batch_alter_table(table) as batch_op:
                for column in reversed(columns):
                    batch_op.drop_constraint(f'ck_{table}_{column}', type_='check')
