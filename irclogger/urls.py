from django.conf import settings
from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path, register_converter
from django.views.generic import RedirectView

from irclogger.views import (
    channel,
    day,
    embed,
    export,
    index,
    ops,
    range_view,
    search,
    statistics,
    year,
    zone,
)
from irclogger.views._common import bad_request
from irclogger.views.converters import DateConverter, LineIdConverter

register_converter(DateConverter, "date")
register_converter(LineIdConverter, "lineid")

_channel = "<slug:network>/<slug:channel>"


def account_urls() -> list[URLPattern | URLResolver]:
    """Django's login, logout and password change; the reset pages only with mail set up.

    Without EMAIL_HOST a reset could never be delivered: each request would
    end in a connection error, so the pages are not there at all.
    """
    return [
        p
        for p in auth_urls.urlpatterns
        if settings.EMAIL_HOST or "reset" not in (getattr(p, "name", None) or "")
    ]


urlpatterns = [
    path("", index.index, name="irc-index"),
    path("admin/", admin.site.urls),
    path("accounts/", include(account_urls())),
    path("search/", search.search, name="irc-search"),
    path("search.json", search.search_json, name="irc-search-json"),
    path("zone/", zone.zone, name="irc-zone"),
    # Browsers ask for it on pages without <link rel=icon> (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("irclogger/favicon.svg"))),
    # Before the channel routes: no network may shadow them.
    path("healthz", ops.healthz, name="ops-healthz"),
    path("metrics", ops.metrics, name="ops-metrics"),
    path("", include("streams.urls")),
    path(f"{_channel}/", channel.today, name="irc-today"),
    path(f"{_channel}/search/", search.search, name="irc-channel-search"),
    path(f"{_channel}/search.json", search.search_json, name="irc-channel-search-json"),
    path(f"{_channel}/stats/", statistics.statistics, name="irc-statistics"),
    path(f"{_channel}/embed/", embed.embed, name="irc-embed"),
    path(f"{_channel}/line/<lineid:line_id>/", channel.permalink, name="irc-permalink"),
    path(f"{_channel}/jump/", channel.jump, name="irc-jump"),
    path(f"{_channel}/<int:year>/", year.year, name="irc-year"),
    path(f"{_channel}/<date:day>/", day.day, name="irc-day"),
    path(f"{_channel}/<date:day>.txt", export.day_text, name="irc-day-txt"),
    path(f"{_channel}/<date:day>.json", export.day_json, name="irc-day-json"),
    path(f"{_channel}/<date:start>..<date:end>/", range_view.date_range, name="irc-range"),
]

# Under `make run` gunicorn serves the static files itself; in production
# nginx serves them (conf/nginx/) and this adds nothing (DEBUG is off).
urlpatterns += staticfiles_urlpatterns()

# A 400 that says which parameter was wrong, with DEBUG off too.
handler400 = bad_request
