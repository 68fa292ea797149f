"""test group check: each test group's stored validation summary, read by the unit overview

Revision ID: 0011v
Revises: 0010c
Create Date: 2026-12-01

Two new tables: the summaries, and the marks register writes leave for the sweeper. Groups made before it have no row and are validated when the overview shows them
(as before) until ``flask dnp migrate`` (which runs this) stores their summaries.
"""

from alembic import op
import sqlalchemy as sa
import dnp.types

revision = '0011v'
down_revision = '0010c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('test_group_check',
    sa.Column('test_group_id', sa.String(length=36), nullable=False),
    sa.Column('pupils', sa.Integer(), nullable=False),
    sa.Column('staff', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.Integer(), nullable=False),
    sa.Column('checked_at', dnp.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['test_group_id'], ['test_group.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('test_group_id')
    )
    op.create_table('test_group_check_due',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('test_group_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_test_group_check_due_test_group_id', 'test_group_check_due', ['test_group_id'])


def downgrade() -> None:
    op.drop_index('ix_test_group_check_due_test_group_id', table_name='test_group_check_due')
    op.drop_table('test_group_check_due')
    op.drop_table('test_group_check')
