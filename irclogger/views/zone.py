"""The reader's time zone, chosen once and kept in a cookie across visits."""

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from irclogger.params import parse_zone, zone_name, zone_names
from irclogger.views._common import ZONE_COOKIE, chosen_zone

# A year: a reader's zone changes when they move, not per visit.
ZONE_COOKIE_MAX_AGE = 365 * 24 * 3600
# What "use the channel's own zone" posts.
CHANNEL_ZONE = ""


@require_http_methods(["GET", "POST"])
def zone(request: HttpRequest) -> HttpResponse:
    """GET: the form (the browser's own zone offered first, by zone.js); POST: keep it."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    if request.method == "POST":
        name = request.POST.get("zone", CHANNEL_ZONE)
        response = HttpResponseRedirect(next_url)
        if name == CHANNEL_ZONE:
            response.delete_cookie(ZONE_COOKIE)
            return response
        try:
            tz = parse_zone(name)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        response.set_cookie(ZONE_COOKIE, zone_name(tz), max_age=ZONE_COOKIE_MAX_AGE, samesite="Lax")
        return response
    chosen = chosen_zone(request)
    context = {
        "zones": sorted(zone_names()),
        "chosen": zone_name(chosen) if chosen is not None else CHANNEL_ZONE,
        "next": next_url,
    }
    return render(request, "irclogger/zone.html", context)


def _safe_next(request: HttpRequest, url: str) -> str:
    """Back to the page the reader came from, never to another site."""
    allowed = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if url and allowed else "/"
