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

ACCESS_TOKENS = """
INSERT INTO access_tokens (id, created_at, updated_at, jti, application_id, user_id, scope, expires_at, revoked_at)
SELECT md5('bench-at-' || i)::uuid, now() - interval '2 days', now() - interval '2 days', 'bench-at-' || i,
       md5('bench-app-' || (1 + i %% %(applications)s))::uuid, md5('bench-user-' || (1 + i %% %(users)s))::uuid,
       'openid profile', now() - interval '1 day',
       CASE WHEN i %% 2 = 1 THEN now() - interval '2 days' END
FROM generate_series(%(first)s, %(last)s) AS i"""

# token_revocations (the revocation denylist's table, id, kind, subject, revoked_at, expires_at):
# the value of each column by its type; every entry has expired (an entry outlives its token
# only until the token's own expiry).
REVOCATION_VALUES = {
    ("id", "uuid"): "md5('bench-tr-' || i)::uuid",
    ("id", "integer"): "i", ("id", "bigint"): "i",
    ("subject", "uuid"): "md5('bench-subject-' || i)::uuid",
    ("revoked_at", None): "now() - interval '2 days'",
    ("expires_at", None): "now() - interval '1 day'",
    ("created_at", None): "now() - interval '2 days'",
    ("updated_at", None): "now() - interval '2 days'",
}


def _revocations_insert(cursor) -> str | None:
    """The INSERT for token_revocations, built from its columns; None when the table is absent."""
    cursor.execute("SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns"
                   " WHERE table_schema = current_schema() AND table_name = 'token_revocations'"
                   " ORDER BY ordinal_position")
    columns = cursor.fetchall()
    if not columns:
        return None
    names, values = [], []
    for name, data_type, nullable, default in columns:
        value = REVOCATION_VALUES.get((name, data_type)) or REVOCATION_VALUES.get((name, None))
        if value is None and data_type in ("text", "character varying"):
            value = {"kind": "'jti'"}.get(name, f"'bench-{name}-' || i")
        if value is None:
            if nullable == "YES" or default is not None:
                continue
            raise SystemExit(f"token_revocations.{name} ({data_type}) has no seed value: add one to bench/seed.py")
        names.append(name)
        values.append(value)
    return (f"INSERT INTO token_revocations ({', '.join(names)}) SELECT {', '.join(values)}"
            " FROM generate_series(%(first)s, %(last)s) AS i")


def _table_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    return cursor.fetchone()[0]


def _fill(cursor, label: str, statement: str, first: int, last: int, **totals) -> None:
    began = time.monotonic()
    for start in range(first, last + 1, CHUNK):
        cursor.execute(statement, {"first": start, "last": min(last, start + CHUNK - 1), **totals})
    if last >= first:
        print(f"    {label}: rows {first:,}-{last:,} in {time.monotonic() - began:.0f} s", flush=True)


def seed(database_url: str, before: dict, after: dict) -> list[str]:
    """Add rows so that the totals go from before to after ({users, applications, tokens}); the
    token records are split evenly between the token tables present. Returns notes for the report."""
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    notes = []
    with connection.cursor() as cursor:
        _fill(cursor, "users", USERS, before["users"] + 1, after["users"])
        _fill(cursor, "applications", APPLICATIONS, before["applications"] + 1, after["applications"])
        tables = [("refresh_tokens", REFRESH_TOKENS)]
        if _table_exists(cursor, "access_tokens"):
            tables.append(("access_tokens", ACCESS_TOKENS))
        revocations = _revocations_insert(cursor)
        if revocations:
            tables.append(("token_revocations", revocations))
        else:
            notes.append("no token_revocations table: its share of the token records went to the other tables")
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
