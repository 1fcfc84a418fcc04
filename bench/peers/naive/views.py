"""The stream as the naive app writes it: django-sse's BaseSseView, as published.

Each stream polls the table for new lines once a second while it holds its
worker and its database connection. django-sse's ``dispatch`` wraps the
generator in a plain ``HttpResponse``, which consumes it before sending a
byte (docs/DESIGN.md, "django-sse"): no client ever receives an event, and each
sync worker is stuck on its first stream until gunicorn's timeout kills it.
That is the behaviour the benchmark records.
"""

import json
import time
from collections.abc import Iterator

from django.db.models import Max
from django_sse.views import BaseSseView

from irclogger.lines import render_line
from irclogger.models import Channel, Line

# How often the naive stream asks the database for new lines.
POLL_SECONDS = 1.0


class LineStream(BaseSseView):
    def iterator(self) -> Iterator[None]:
        channel = Channel.objects.get(
            network__slug=self.kwargs["network"], slug=self.kwargs["channel"]
        )
        last = int(self.get_last_id() or 0) or _last_id(channel)
        while True:
            for line in Line.objects.filter(channel=channel).after(last):
                data = {"id": line.id, "html": render_line(line), "text": line.text}
                self.sse.add_message("line", json.dumps(data))
                last = line.id
            yield None
            time.sleep(POLL_SECONDS)


def _last_id(channel: Channel) -> int:
    return Line.objects.filter(channel=channel).aggregate(last=Max("id"))["last"] or 0
