"""push method state: the push cursor on the outbox, per-object answers, bulk calls

Revision ID: 0009p
Revises: 0007e
Create Date: 2026-12-03

New tables only (``dnp.delivery.push.models``); nothing existing changes. The transfer method itself
is a ``central_setting`` row (``transfer_method``), absent = pull, so existing installations keep pulling.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import dnp.types
from sqlalchemy.dialects import postgresql

revision = '0009p'
down_revision = '0007e'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('push_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('resource', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('log_entries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('at', dnp.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('push_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_answer_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_push_answer_entity', ['resource', 'entity_id'], unique=False)

    op.create_table('push_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('resource', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('entity_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('items', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('polls', sa.Integer(), nullable=False),
    sa.Column('due_at', dnp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', dnp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('created', dnp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', dnp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', dnp.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('push_batch', schema=None) as batch_op:
        batch_op.create_index('ix_push_batch_due', ['status', 'due_at'], unique=False)

    op.create_table('push_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_outbox_id', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=True),
    sa.Column('started_at', dnp.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('push_object',
    sa.Column('resource', sa.String(length=12), nullable=False),
    sa.Column('entity_id', sa.String(length=36), nullable=False),
    sa.Column('dirty', sa.Boolean(), nullable=False),
    sa.Column('due_at', dnp.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('remote', sa.Boolean(), nullable=False),
    sa.Column('sent_action', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('sent_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('log_entries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('left_out', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('incomplete', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('trying_since', dnp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed', sa.Boolean(), nullable=False),
    sa.Column('sent_at', dnp.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', dnp.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('resource', 'entity_id')
    )
    with op.batch_alter_table('push_object', schema=None) as batch_op:
        batch_op.create_index('ix_push_object_batch', ['batch_id'], unique=False)
        batch_op.create_index('ix_push_object_due', ['dirty', 'due_at'], unique=False)
        batch_op.create_index('ix_push_object_status', ['resource', 'status'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('push_object', schema=None) as batch_op:
        batch_op.drop_index('ix_push_object_status')
        batch_op.drop_index('ix_push_object_due')
        batch_op.drop_index('ix_push_object_batch')

    op.drop_table('push_object')
    op.drop_table('push_cursor')
    with op.batch_alter_table('push_batch', schema=None) as batch_op:
        batch_op.drop_index('ix_push_batch_due')

    op.drop_table('push_batch')
    with op.batch_alter_table('push_answer', schema=None) as batch_op:
        batch_op.drop_index('ix_push_answer_entity')
        batch_op.drop_index(batch_op.f('ix_push_answer_batch_id'))

    op.drop_table('push_answer')

