from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from irclogger.formatting import render_irc
from irclogger.models import Channel, Line, Network


def index(request: HttpRequest) -> HttpResponse:
    """Networks and the channels this reader may see, newest activity shown."""
    last_line = Line.objects.filter(channel=OuterRef("pk")).order_by("-timestamp", "-id")
    channels = (
        Channel.objects.visible_to(request.user)
        .annotate(last_activity=Subquery(last_line.values("timestamp")[:1]))
        .order_by("name")
    )
    networks = (
        Network.objects.filter(channels__in=channels)
        .distinct()
        .prefetch_related(Prefetch("channels", queryset=channels, to_attr="visible_channels"))
    )
    for network in networks:
        # visible_channels is set by the Prefetch's to_attr, topic_html here.
        visible: list[Channel] = network.visible_channels  # type: ignore[attr-defined]
        for channel in visible:
            channel.topic_html = render_irc(channel.topic)  # type: ignore[attr-defined]
    return render(request, "irclogger/index.html", {"networks": networks})
