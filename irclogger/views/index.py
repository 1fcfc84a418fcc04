from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from irclogger.models import Network


def index(request: HttpRequest) -> HttpResponse:
    """Networks and the channels this reader may see, newest activity shown."""
    networks = Network.objects.with_visible_channels(request.user)
    return render(request, "irclogger/index.html", {"networks": networks})
