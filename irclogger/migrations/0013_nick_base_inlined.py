"""A nick's base is computed inline: ``irclogger_nick_base`` is no longer STRICT.

PostgreSQL inlines an SQL function's expression into the statement that
calls it, but not a STRICT one whose expression could give something other
than NULL for a NULL argument (``coalesce`` could). Not inlined, each call
started the function's own executor: on every insert, for the nick index,
and on every row a nick filter reads. For a NULL nick the expression still
gives NULL, and for any other nick the same base, so the index stays valid.

A connection that had the lines table open before this migration keeps the
index's expression in its old form until it reconnects; gunicorn's reload
after a migration opens new connections.
"""

from django.db import migrations

NICK_BASE = r"""
CREATE OR REPLACE FUNCTION irclogger_nick_base(nick text) RETURNS text
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS $$
    SELECT coalesce(
        nullif(lower(regexp_replace(nick, '[|[].*$|[_`^-]+$', '')), ''), lower(nick))
$$;
"""

STRICT_NICK_BASE = NICK_BASE.replace("CALLED ON NULL INPUT", "STRICT")


class Migration(migrations.Migration):
    dependencies = [
        ("irclogger", "0012_activity_channel_indexes_dropped"),
    ]

    operations = [migrations.RunSQL(NICK_BASE, reverse_sql=STRICT_NICK_BASE)]
