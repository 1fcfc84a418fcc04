from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from irclogger.models import Network
from irclogger.params import UTC, zone_name
from irclogger.views._common import chosen_zone


def index(request: HttpRequest) -> HttpResponse:
    """Networks and the channels this reader may see, newest activity shown."""
    networks = Network.objects.with_visible_channels(request.user)
    # Channels differ in zone; the index is in the reader's chosen one, else UTC.
    zone = zone_name(chosen_zone(request) or UTC)
    return render(request, "irclogger/index.html", {"networks": networks, "zone": zone})
