"""hold_sync: objects whose legal hold in the object store still has to follow the database

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 20:30:00
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'hold_sync',
        sa.Column('object_key', sa.String(length=500), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('object_key'),
    )
    # Evidence tagged before this revision is held in the database only: queue its objects, so the next sync puts
    # them under legal hold in the store as well (where the bucket has object lock).
    bind = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC there, like every other timestamp
    bind.execute(sa.text(
        "INSERT INTO hold_sync (object_key, queued_at, attempts, last_error) "
        "SELECT object_key, :now, 0, '' FROM segment WHERE legal_hold = :held "
        "UNION SELECT object_key, :now, 0, '' FROM evidence"), {"now": now, "held": True})


def downgrade() -> None:
    op.drop_table('hold_sync')
