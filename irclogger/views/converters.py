import datetime as dt

from irclogger.params import EARLIEST, LATEST, in_range


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
