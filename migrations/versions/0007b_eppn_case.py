"""EPPNs compared in any letter case: grants, accounts and sessions keyed by the lower-cased EPPN

Revision ID: 0007b
Revises: 0007a
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = '0007b'
down_revision = '0007a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_person_eppn_lower', 'person', [sa.text('lower(eppn)')], unique=False)
    # Grants that differ only in letter case are one grant: keep the first, then lower-case the rest.
    op.execute(
        "DELETE FROM role_grant WHERE id NOT IN ("
        " SELECT MIN(id) FROM role_grant GROUP BY lower(eppn), role, school_unit_id)"
    )
    op.execute("UPDATE role_grant SET eppn = lower(eppn) WHERE eppn <> lower(eppn)")
    # Accounts are only a display name and login times: keep one per person.
    op.execute(
        "DELETE FROM user_account WHERE eppn NOT IN ("
        " SELECT MIN(eppn) FROM user_account GROUP BY lower(eppn))"
    )
    op.execute("UPDATE user_account SET eppn = lower(eppn) WHERE eppn <> lower(eppn)")
    op.execute("UPDATE login_session SET eppn = lower(eppn) WHERE eppn <> lower(eppn)")


def downgrade() -> None:
    op.drop_index('ix_person_eppn_lower', table_name='person')
