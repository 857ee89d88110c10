"""login failures for throttling; password change time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_failure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_login_failure_user_time', 'login_failure', ['username', 'at'], unique=False)
    op.create_index('ix_login_failure_address_time', 'login_failure', ['address', 'at'], unique=False)
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('password_changed_at')
    op.drop_index('ix_login_failure_address_time', table_name='login_failure')
    op.drop_index('ix_login_failure_user_time', table_name='login_failure')
    op.drop_table('login_failure')
