"""The kinds of log line: one list for the models, the bot, the importers and the line template.

No ORM here, so rendering can know the kinds without importing a query.
"""

from django.db import models


class LineKind(models.TextChoices):
    MESSAGE = "message"
    ACTION = "action"
    NOTICE = "notice"
    JOIN = "join"
    PART = "part"
    QUIT = "quit"
    NICK = "nick"
    TOPIC = "topic"
    KICK = "kick"
    MODE = "mode"
    SYSTEM = "system"


# Kinds hidden by "hide joins/parts" and folded into one summary line.
PRESENCE_KINDS = frozenset({LineKind.JOIN, LineKind.PART, LineKind.QUIT, LineKind.NICK})


# The text stored in place of what a line said: the admin's redact action, and
# the bot's lines of a channel's excluded nicks.
REDACTED = "[redacted]"
