"""Data at scale for the --scale mode: users, applications and revoked or expired token records,
written by PostgreSQL itself (INSERT ... SELECT over generate_series), in chunks.

Rows are numbered from 1; ids are derived from the number (md5 as a uuid), so that the token
records can name users and applications without reading them back. Seeding is additive: a
second call with larger totals adds the rows from the previous total on."""

import time

import psycopg2

CHUNK = 500_000

USERS = """
INSERT INTO users (id, created_at, updated_at, email, password_hash, fullname, email_verified, is_active,
                   two_factor_enabled, phone_verified)
SELECT md5('bench-user-' || i)::uuid, now() - (i %% 100000) * interval '1 minute', now(),
       'bench-user-' || i || '@example.test',
       '$argon2id$v=19$m=19456,t=2,p=1$' || md5('salt' || i) || '$' || md5('hash' || i) || md5('more' || i),
       'Bench User ' || i, true, true, false, false
FROM generate_series(%(first)s, %(last)s) AS i"""

APPLICATIONS = """
INSERT INTO applications (id, created_at, updated_at, client_id, client_secret_hash, name, redirect_uris,
                          post_logout_redirect_uris, grant_types, response_types, scope,
                          token_endpoint_auth_method, skip_consent, introspect, request_uris,
                          backchannel_logout_session_required, frontchannel_logout_session_required)
SELECT md5('bench-app-' || i)::uuid, now(), now(), 'bench-app-' || i,
       encode(sha256(('bench-app-secret-' || i)::bytea), 'hex'), 'Bench application ' || i,
       json_build_array('https://app' || i || '.example.test/callback'), '[]'::json,
       '["authorization_code", "refresh_token"]'::json, '["code"]'::json, 'openid profile email',
       'client_secret_basic', false, false, '[]'::json, false, false
FROM generate_series(%(first)s, %(last)s) AS i"""

# Half expired, half revoked before their expiry.
REFRESH_TOKENS = """
INSERT INTO refresh_tokens (id, created_at, updated_at, token_hash, family_id, application_id, user_id, scope,
                            auth_time, amr, offline, expires_at, rotated_at, revoked_at)
SELECT md5('bench-rt-' || i)::uuid, now() - interval '40 days', now() - interval '10 days',
       encode(sha256(('bench-rt-' || i)::bytea), 'hex'), md5('bench-rf-' || (i / 4))::uuid,
       md5('bench-app-' || (1 + i %% %(applications)s))::uuid, md5('bench-user-' || (1 + i %% %(users)s))::uuid,
       'openid profile offline_access', now() - interval '40 days', '["pwd"]'::json, true,
       CASE WHEN i %% 2 = 0 THEN now() - interval '10 days' ELSE now() + interval '20 days' END,
       CASE WHEN i %% 4 = 1 THEN now() - interval '30 days' END,
       CASE WHEN i %% 2 = 1 THEN now() - interval '10 days' END
FROM generate_series(%(first)s, %(last)s) AS i"""

# Revocations whose tokens have all expired: what a busy server leaves behind until it prunes them.
# The id is left to the table's sequence, which the server's denylist reads past.
TOKEN_REVOCATIONS = """
INSERT INTO token_revocations (kind, subject, revoked_at, expires_at)
SELECT CASE WHEN i %% 2 = 0 THEN 'jti' ELSE 'session' END, md5('bench-revoked-' || i),
       now() - interval '2 days', now() - interval '1 day'
FROM generate_series(%(first)s, %(last)s) AS i"""


def _fill(cursor, label: str, statement: str, first: int, last: int, **totals) -> None:
    began = time.monotonic()
    for start in range(first, last + 1, CHUNK):
        cursor.execute(statement, {"first": start, "last": min(last, start + CHUNK - 1), **totals})
    if last >= first:
        print(f"    {label}: rows {first:,}-{last:,} in {time.monotonic() - began:.0f} s", flush=True)


def seed(database_url: str, before: dict, after: dict) -> list[str]:
    """Add rows so that the totals go from before to after ({users, applications, tokens}); the
    token records are split evenly between refresh_tokens and token_revocations. Returns notes for the report."""
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    notes = []
    with connection.cursor() as cursor:
        _fill(cursor, "users", USERS, before["users"] + 1, after["users"])
        _fill(cursor, "applications", APPLICATIONS, before["applications"] + 1, after["applications"])
        tables = [("refresh_tokens", REFRESH_TOKENS), ("token_revocations", TOKEN_REVOCATIONS)]
        for name, statement in tables:
            share_before, share_after = before["tokens"] // len(tables), after["tokens"] // len(tables)
            _fill(cursor, name, statement, share_before + 1, share_after, users=after["users"],
                  applications=after["applications"])
        began = time.monotonic()
        for name in ["users", "applications"] + [name for name, _ in tables]:
            cursor.execute(f"VACUUM ANALYZE {name}")
        print(f"    VACUUM ANALYZE in {time.monotonic() - began:.0f} s", flush=True)
        notes.append("token records in: " + ", ".join(name for name, _ in tables))
    connection.close()
    return notes
