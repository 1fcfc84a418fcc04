import datetime as dt

from django.http import HttpRequest, HttpResponse, JsonResponse

from irclogger.formatting import plain_line, strip_irc
from irclogger.kinds import LineKind
from irclogger.lines import Line, line_fields
from irclogger.views._common import get_channel, get_tz

# How each kind reads in a plain-text log, in the style of irssi's logs.
_TEXT_SHAPES: dict[str, str] = {
    LineKind.MESSAGE: "<{nick}> {text}",
    LineKind.ACTION: " * {nick} {text}",
    LineKind.NOTICE: "-{nick}- {text}",
    LineKind.JOIN: "-!- {nick} has joined {channel}",
    LineKind.PART: "-!- {nick} has left {channel} [{text}]",
    LineKind.QUIT: "-!- {nick} has quit [{text}]",
    LineKind.NICK: "-!- {nick} is now known as {target}",
    LineKind.TOPIC: "-!- {nick} changed the topic of {channel} to: {text}",
    LineKind.KICK: "-!- {target} was kicked from {channel} by {nick} [{text}]",
    LineKind.MODE: "-!- mode/{channel} [{text}] by {nick}",
    LineKind.SYSTEM: "-!- {text}",
}


def day_text(request: HttpRequest, network: str, channel: str, day: dt.date) -> HttpResponse:
    chan = get_channel(request, network, channel)
    tz = get_tz(request, chan)
    # One log line is one line of the file, whatever its text holds (formatting.plain_line).
    name = plain_line(chan.name)
    out = [f"--- Log for {name} on {plain_line(chan.network.name)}, {day.isoformat()} ({tz})"]
    for line in chan.lines.for_day(day, tz).rows():
        out.append(f"{line.timestamp.astimezone(tz):%H:%M:%S} {_as_text(line, name)}")
    return HttpResponse("\n".join(out) + "\n", content_type="text/plain; charset=utf-8")


def _as_text(line: Line, channel_name: str) -> str:
    shape = _TEXT_SHAPES.get(line.kind, "{text}")
    return shape.format(
        nick=plain_line(line.nick),
        target=plain_line(line.target),
        text=plain_line(line.text),
        channel=channel_name,
    )


def day_json(request: HttpRequest, network: str, channel: str, day: dt.date) -> JsonResponse:
    chan = get_channel(request, network, channel)
    tz = get_tz(request, chan)
    day_lines = list(chan.lines.for_day(day, tz).rows())
    return JsonResponse(
        {
            "network": chan.network.slug,
            "channel": chan.name,
            "date": day.isoformat(),
            "tz": str(tz),
            "lines": [_as_json(line) for line in day_lines],
            # A client polling for more asks for ids above this one.
            "cursor": max((line.id for line in day_lines), default=None),
        }
    )


def _as_json(line: Line) -> dict[str, object]:
    return {**line_fields(line), "plain": strip_irc(line.text)}
