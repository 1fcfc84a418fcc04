"""Finding a channel a reader may see: the pages and the streams ask here."""

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from irclogger.models import Channel


def get_channel(request: HttpRequest, network: str, channel: str) -> Channel:
    """The channel, or the same 404 whether it is missing or merely private."""
    queryset = Channel.objects.visible_to(request.user).select_related("network")
    return get_object_or_404(queryset, network__slug=network, slug=channel)
