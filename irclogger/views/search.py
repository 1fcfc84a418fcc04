from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from irclogger.formatting import render_irc
from irclogger.lines import render_line
from irclogger.models import Channel, Line
from irclogger.search import SearchForm, headline_html, search_lines
from irclogger.views._common import get_channel


def search(
    request: HttpRequest, network: str | None = None, channel: str | None = None
) -> HttpResponse:
    """Search one channel, or every channel this reader may see.

    Any query answers: websearch syntax never fails to parse, and a form
    error (a bad date) is shown beside the form instead of a server error.
    """
    chan: Channel | None = None
    if network is not None and channel is not None:
        chan = get_channel(request, network, channel)
    form = SearchForm(request.GET or None)
    page = None
    if form.is_bound and form.is_valid() and not form.is_empty():
        page = search_lines(form, request.user, chan)
        for line in page.lines:
            line.html = render_line(  # type: ignore[attr-defined]
                line, show_date=True, body_html=_snippet(line), href=_permalink(line)
            )
    next_query = ""
    if page is not None and page.next_before:
        params = request.GET.copy()
        params["before"] = str(page.next_before)
        next_query = "?" + params.urlencode()
    context = {"form": form, "channel": chan, "page": page, "next_query": next_query}
    return render(request, "irclogger/search.html", context)


def _snippet(line: Line) -> str:
    headline = getattr(line, "headline", None)
    return headline_html(headline) if headline else render_irc(line.text)


def _permalink(line: Line) -> str:
    kwargs = {"network": line.channel.network.slug, "channel": line.channel.slug}
    return reverse("irc-permalink", kwargs={**kwargs, "line_id": line.id})
