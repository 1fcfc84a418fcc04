import datetime as dt


class DateConverter:
    """A YYYY-MM-DD path segment; an impossible date is a 404, not a 500."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> dt.date:
        # ValueError tells Django the URL does not match: a plain 404.
        return dt.date.fromisoformat(value)

    def to_url(self, value: dt.date) -> str:
        return value.isoformat()
