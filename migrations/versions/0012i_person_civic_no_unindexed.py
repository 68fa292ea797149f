"""person.civic_no loses its index: nothing looks persons up by civic number

Revision ID: 0012i
Revises: 0011v
Create Date: 2026-12-01

Every person written (a large import: 100,000 at a time) also wrote this index, and it held every
civic number in a second place for no query.
"""

from alembic import op

revision = '0012i'
down_revision = '0011v'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_civic_no')


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_civic_no', ['civic_no'], unique=False)
