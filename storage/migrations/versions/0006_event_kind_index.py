"""events: index on camera, kind, start (long offline/tamper periods in time-range queries)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 09:25:00
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_event_camera_kind_time', 'event', ['camera_id', 'kind', 'start_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_event_camera_kind_time', table_name='event')
