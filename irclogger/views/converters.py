import datetime as dt

# The dates a page can ask for. IRC is younger than 1970, and keeping a year
# clear of datetime's limits lets a view add a day or shift by a timezone
# without overflowing.
EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(9998, 12, 31)


def in_range(day: dt.date) -> bool:
    return EARLIEST <= day <= LATEST


class DateConverter:
    """A YYYY-MM-DD path segment; an impossible date is a 404, not a 500."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> dt.date:
        # ValueError tells Django the URL does not match: a plain 404.
        day = dt.date.fromisoformat(value)
        if not in_range(day):
            raise ValueError(f"{value} is outside {EARLIEST}..{LATEST}")
        return day

    def to_url(self, value: dt.date) -> str:
        return value.isoformat()
