"""Cut stored import keys to the new length: time (19 characters) and 16 hex digits.

The new keys are prefixes of the old ones, so a file imported before this
migration still adds nothing when imported again.
"""

from django.db import migrations

SHORTEN = "UPDATE irclogger_line SET import_key = left(import_key, 35) WHERE length(import_key) > 35"


class Migration(migrations.Migration):
    dependencies = [
        ("irclogger", "0003_line_channel_checked_per_statement"),
    ]

    # The whole hash is gone once cut: going back leaves the short keys.
    operations = [migrations.RunSQL(SHORTEN, reverse_sql=migrations.RunSQL.noop)]
