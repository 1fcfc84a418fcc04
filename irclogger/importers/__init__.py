"""Importers for the logs people already have: irssi, WeeChat, ZNC, HexChat/XChat,
EnergyMech, Limnoria/Supybot, mIRC and Textual logs, The Lounge's and Quassel's
SQLite stores, and irclogger's own .json day export.

The stable entry point (``manage.py importlogs`` and the benchmark call it)::

    from irclogger.importers import import_files, ImportSummary

    summary: ImportSummary = import_files(
        paths,            # Iterable[str | Path]: log files (plain or gzipped), stores, folders
        channel,          # irclogger.models.Channel the lines belong to
        fmt=None,         # a name from FORMATS, or None to detect each file's format
        tz=datetime.UTC,  # the zone of the logs' local times (importlogs: the channel's)
        report=None,      # Callable[[str], None] for problems; None writes to stderr
        progress=False,   # a tqdm progress bar on stderr
    )
    summary.imported, summary.duplicates, summary.moved, summary.unparsable
    summary.refused, summary.no_lines  # (file, why): skipped, or read with no line in it

Call it outside a transaction: batches then commit one by one and are
written by several connections at once; inside a caller's transaction it
writes with that transaction's connection alone. It never raises for a bad
line or an unknown file: a malformed line is reported (file:line) and
counted, an unknown or unreadable file is listed in ``refused``, and the
rest imports. Re-importing a file adds nothing, another ``tz`` moves the
lines already stored (see runner.py for the import key). Imported lines
are ``imported=True`` and are never announced to streams.

One module per format (``base.Format``: a name, a sniff, and a line parser
or a whole-store reader); the
shared line model, decoding and time zone handling are in ``base``,
detection in ``detect``, the import flow in ``runner``, the database side
in ``store``.
"""

from irclogger.importers.detect import FORMATS
from irclogger.importers.runner import ImportSummary, import_files

__all__ = ["FORMATS", "ImportSummary", "import_files"]
