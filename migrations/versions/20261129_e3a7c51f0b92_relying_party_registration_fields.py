"""relying party registration fields for OpenID Connect

What a relying party registers beyond redirect URIs (OpenID Connect Dynamic Client Registration
§2 names them): its public keys (``jwks`` inline or ``jwks_uri``), request objects
(``request_uris``, ``request_object_signing_alg``), signed userinfo
(``userinfo_signed_response_alg``), the signing algorithm of its client assertions
(``token_endpoint_auth_signing_alg``), and where it is told of logouts (back-channel and
front-channel logout URIs). ``client_secret_sealed`` keeps, sealed with the key encryption
secret, the secret of a client that authenticates with ``client_secret_jwt`` (an HMAC key the
server must hold; every other secret stays a one-way digest).

Codes and refresh tokens keep the authentication context class (``acr``) and the ``claims``
request parameter they were issued with, so an ID token issued or re-issued from them says the
same; access tokens keep the ``claims`` request for userinfo.

Revision ID: e3a7c51f0b92
Revises: b7c4e2a9d1f0
Create Date: 2026-11-29 23:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e3a7c51f0b92'
down_revision = 'b7c4e2a9d1f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jwks', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('jwks_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('request_uris', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('request_object_signing_alg', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('token_endpoint_auth_signing_alg', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('userinfo_signed_response_alg', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('backchannel_logout_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('backchannel_logout_session_required', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('frontchannel_logout_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('frontchannel_logout_session_required', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('client_secret_sealed', sa.Text(), nullable=True))
    for table in ('authorization_codes', 'refresh_tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('acr', sa.String(length=128), nullable=True))
            batch_op.add_column(sa.Column('claims', sa.JSON(), nullable=True))
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claims', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_column('claims')
    for table in ('refresh_tokens', 'authorization_codes'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('claims')
            batch_op.drop_column('acr')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        for column in ('client_secret_sealed', 'frontchannel_logout_session_required', 'frontchannel_logout_uri',
                       'backchannel_logout_session_required', 'backchannel_logout_uri',
                       'userinfo_signed_response_alg', 'token_endpoint_auth_signing_alg',
                       'request_object_signing_alg', 'request_uris', 'jwks_uri', 'jwks'):
            batch_op.drop_column(column)
