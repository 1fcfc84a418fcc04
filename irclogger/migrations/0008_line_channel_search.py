from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

import irclogger.models


class Migration(migrations.Migration):
    dependencies = [("irclogger", "0007_import_keys_by_written_minute")]

    operations = [
        migrations.RemoveIndex(model_name="line", name="line_search"),
        migrations.AddIndex(
            model_name="line",
            index=GinIndex(irclogger.models.ChannelDocument(), name="line_channel_search"),
        ),
    ]
