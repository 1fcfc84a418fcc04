"""Line.raw: the bytes of a line that was not valid UTF-8, kept recoverable."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("irclogger", "0008_line_channel_search"),
    ]

    # NULL for every line so far: adding the column rewrites nothing.
    operations = [
        migrations.AddField(
            model_name="line",
            name="raw",
            field=models.BinaryField(blank=True, null=True),
        ),
    ]
