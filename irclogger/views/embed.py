"""The live widget: a public channel's last lines and its live tail, for an <iframe>."""

from csp.constants import NONE
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt

from irclogger.lines import render_log
from irclogger.models import Channel
from irclogger.params import zone_name
from irclogger.views._common import channel_base, get_channel, get_tz

DEFAULT_LINES = 50
MAX_LINES = 500


@xframe_options_exempt  # X-Frame-Options cannot name origins; CSP frame-ancestors does
def embed(request: HttpRequest, network: str, channel: str) -> HttpResponse:
    """Public channels only, whoever asks: a page on another site must never
    show a private channel because its reader happens to be logged in here."""
    chan = get_channel(request, network, channel)
    if not chan.is_public:
        raise Http404("No such channel.")
    tz = get_tz(request, chan)
    count = _line_count(request.GET.get("lines", ""))
    newest = chan.lines.order_by("-timestamp", "-id").defer("search_vector")[:count]
    lines = sorted(newest, key=lambda line: (line.timestamp, line.id))
    base = channel_base(chan)
    context = {
        "channel": chan,
        "log_html": render_log(lines, tz, day_base=base, bots=chan.bots),
        "line_count": len(lines),
        # Where the stream resumes: the newest live line when the page was made.
        "last_id": chan.lines.latest_live_id(),
        "stream_url": base + "stream/",
        "page_data": {"base": base, "tz": zone_name(tz), "bots": sorted(chan.bots)},
    }
    response = render(request, "irclogger/embed.html", context)
    # The site's policy (settings.CONTENT_SECURITY_POLICY), with the channel's
    # origins as the only pages that may frame it; django-csp reads this.
    response._csp_replace = embed_policy(chan)  # type: ignore[attr-defined]
    return response


def _line_count(raw: str) -> int:
    """``?lines=N``, 1 to MAX_LINES; anything else is the default (the widget must render)."""
    # Bounded first: int() refuses strings of thousands of digits (a 500).
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_LINES)):
        return max(1, min(int(raw), MAX_LINES))
    return DEFAULT_LINES


def embed_policy(channel: Channel) -> dict[str, list[str]]:
    """What the widget's CSP changes: the channel's origins as frame-ancestors, no forms."""
    return {"frame-ancestors": list(channel.frame_origins) or [NONE], "form-action": [NONE]}
