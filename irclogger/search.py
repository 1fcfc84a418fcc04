"""Search over the lines a reader may see: the form, the query, the snippets."""

import datetime as dt
import html
from dataclasses import dataclass

from django import forms
from django.conf import settings

from irclogger.models import (
    HEADLINE_START,
    HEADLINE_STOP,
    NICK_MAX_LENGTH,
    Channel,
    Line,
    LineQuerySet,
    User,
)
from irclogger.params import EARLIEST, LATEST, UTC, day_start, in_range

# Counting every match of a common word over millions of lines costs more
# than the page; past this the page says "more than".
COUNT_LIMIT = 1000


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, label="Search")
    nick = forms.CharField(required=False, max_length=NICK_MAX_LENGTH)
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")
    before = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput
    )

    def clean_since(self) -> dt.date | None:
        return _bounded(self.cleaned_data.get("since"))

    def clean_until(self) -> dt.date | None:
        return _bounded(self.cleaned_data.get("until"))

    def is_empty(self) -> bool:
        data = self.cleaned_data
        return not (data.get("q") or data.get("nick"))


def _bounded(day: dt.date | None) -> dt.date | None:
    if day is not None and not in_range(day):
        raise forms.ValidationError(f"Choose a date between {EARLIEST} and {LATEST}.")
    return day


@dataclass
class SearchPage:
    lines: list[Line]
    count: int
    count_is_capped: bool
    next_before: int | None


def search_lines(form: SearchForm, user: User, channel: Channel | None) -> SearchPage:
    """One page of matches, newest first, keyset-paginated by id."""
    data = form.cleaned_data
    lines = _filtered(Line.objects.visible_to(user), data, channel)
    count = _capped_count(lines)
    if data.get("before"):
        lines = lines.filter(id__lt=data["before"])
    if data.get("q"):
        lines = lines.with_headline(data["q"])
    size = settings.SEARCH_PAGE_SIZE
    page = list(lines.select_related("channel__network").order_by("-id")[: size + 1])
    next_before = page[size - 1].id if len(page) > size else None
    return SearchPage(page[:size], min(count, COUNT_LIMIT), count > COUNT_LIMIT, next_before)


def _filtered(
    lines: LineQuerySet, data: dict[str, object], channel: Channel | None
) -> LineQuerySet:
    if channel is not None:
        lines = lines.filter(channel=channel)
    if data.get("q"):
        lines = lines.search(str(data["q"]))
    if data.get("nick"):
        lines = lines.filter(nick__iexact=data["nick"])
    since, until = data.get("since"), data.get("until")
    if isinstance(since, dt.date):
        lines = lines.filter(timestamp__gte=day_start(since, UTC))
    if isinstance(until, dt.date):
        end = day_start(until + dt.timedelta(days=1), UTC)
        lines = lines.filter(timestamp__lt=end)
    return lines


def _capped_count(lines: LineQuerySet) -> int:
    return lines.values("id")[: COUNT_LIMIT + 1].count()


def headline_html(headline: str) -> str:
    """Escape the snippet, then turn PostgreSQL's match marks into <mark>."""
    escaped = html.escape(headline)
    return escaped.replace(HEADLINE_START, "<mark>").replace(HEADLINE_STOP, "</mark>")
