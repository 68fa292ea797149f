"""client credential: a pending certificate kept apart from the one in use

Revision ID: 0007d
Revises: 0007b
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa

revision = '0007d'
down_revision = '0007b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('client_credential') as batch:
        batch.add_column(sa.Column('pending', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('client_credential') as batch:
        batch.drop_column('pending')
