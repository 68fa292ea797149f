"""delivery job keys; a webhook cursor for every subscription

Revision ID: 0007a
Revises: 0006
Create Date: 2026-12-01

Deliveries get a random ``job_key`` so their RQ job ids never repeat after a database restore while
Redis keeps the old jobs. Subscriptions stored before cursors were recorded with them get one now,
covering everything written to the outbox since they were created (nothing of that is lost).
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = '0007a'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_key', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE delivery SET job_key = substr(md5(random()::text || id::text), 1, 16)")
    else:
        op.execute("UPDATE delivery SET job_key = lower(hex(randomblob(8)))")
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('job_key', existing_type=sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False)

    op.execute(
        "INSERT INTO webhook_cursor (subscription_id, last_outbox_id) "
        "SELECT s.id, COALESCE((SELECT MAX(o.id) FROM outbox o WHERE o.created_at < s.created), 0) "
        "FROM subscription s "
        "WHERE NOT EXISTS (SELECT 1 FROM webhook_cursor c WHERE c.subscription_id = s.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('job_key')
