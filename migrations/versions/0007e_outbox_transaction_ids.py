"""outbox rows carry their transaction; webhook cursors may hold a snapshot

Revision ID: 0007e
Revises: 0007d
Create Date: 2026-12-02

On PostgreSQL ids become visible in commit order, not in id order, so a cursor of ids can pass a row
that appears behind it later (a lost webhook). From now on every outbox row records the transaction
that wrote it (``txid``, set by the database) and cursors hold a snapshot (``dnp.delivery.outbox``).

Existing rows keep ``txid`` NULL (the default is set after the column is added, so the table is not
rewritten). Existing cursors keep their id and no snapshot: adding the column waits for every open
writer of the outbox, so once this commits no row below any stored id can still appear, and the
first gather reads the rows above it (those from before by id, later ones by transaction) and stores
a snapshot – nothing lost, nothing read twice. SQLite keeps id cursors (its writers are serialised).
"""

from alembic import op
import sqlalchemy as sa

revision = '0007e'
down_revision = '0007d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('txid', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_txid'), ['txid'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE outbox ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)")
    with op.batch_alter_table('webhook_cursor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshot', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_cursor', schema=None) as batch_op:
        batch_op.drop_column('snapshot')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_txid'))
        batch_op.drop_column('txid')
