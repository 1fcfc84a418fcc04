import datetime as dt

from irclogger.params import EARLIEST, LATEST, in_range, parse_id


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


class LineIdConverter:
    """A line id in a path (permalinks): ASCII digits within bigint, else a 404."""

    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        line_id = parse_id(value)
        if line_id is None:
            raise ValueError(f"{value} is not a line id")
        return line_id

    def to_url(self, value: int) -> str:
        return str(value)
