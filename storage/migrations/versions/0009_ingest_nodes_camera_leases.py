"""ingest nodes and camera leases (several workers share the cameras)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 18:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ingest_node',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'camera_lease',
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('node', sa.String(length=100), nullable=False),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['camera_id'], ['camera.id']),
        sa.PrimaryKeyConstraint('camera_id'),
    )
    op.create_index('ix_camera_lease_node', 'camera_lease', ['node'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_camera_lease_node', table_name='camera_lease')
    op.drop_table('camera_lease')
    op.drop_table('ingest_node')
