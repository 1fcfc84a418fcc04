"""Import keys by the minute the log wrote, not the UTC second: the same key in any zone.

Keys become ``YYYY-MM-DDTHH:MM`` (the local minute) and 16 hex digits of
SHA-256 over ``kind TAB nick TAB target TAB text TAB occurrence``, the
occurrence counting identical lines of the channel in that minute
(irclogger/importers/runner.py computes the same). The local minute of a
line imported before is its time in the channel's zone: lines imported
with another ``--tz`` than the channel's zone are best re-keyed after the
channel's zone is set to it. A line whose text an admin redacted is keyed
by the redacted text; the importer does not add the file's line back
(irclogger/importers/store.py).
"""

from django.db import migrations

REKEY = r"""
UPDATE irclogger_line AS line SET import_key = rekeyed.key
FROM (
    SELECT id, local_minute || left(encode(sha256(convert_to(
        kind || E'\t' || nick || E'\t' || target || E'\t' || text || E'\t'
        || (row_number() OVER (
            PARTITION BY channel_id, local_minute, kind, nick, target, text
            ORDER BY timestamp, id
        ) - 1)::text, 'UTF8')), 'hex'), 16) AS key
    FROM (
        SELECT line.id, line.channel_id, line.timestamp, line.kind, line.nick, line.target,
            line.text,
            to_char(line.timestamp AT TIME ZONE channel.timezone, 'YYYY-MM-DD"T"HH24:MI')
                AS local_minute
        FROM irclogger_line AS line JOIN irclogger_channel AS channel
            ON channel.id = line.channel_id
        WHERE line.import_key IS NOT NULL
    ) AS imported
) AS rekeyed
WHERE line.id = rekeyed.id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("irclogger", "0006_channel_bot_nicks"),
    ]

    # The old keys held a UTC time that cannot be recovered from the new ones.
    operations = [migrations.RunSQL(REKEY, reverse_sql=migrations.RunSQL.noop)]
