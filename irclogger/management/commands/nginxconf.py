"""Render conf/nginx/ into a directory nginx can load: no hand-edited paths or ports.

The templates use Django's template language ({{ name }}), which cannot clash with
nginx's own ``$variables`` and braces. Every number has its reason next to it, in
the templates or in the defaults below.
"""

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template import Context, Engine

TEMPLATE_DIR = Path(settings.BASE_DIR) / "conf" / "nginx"
TEMPLATES = [
    "nginx.conf",
    "irclogger.conf",
    "snippets/site.conf",
    "snippets/proxy.conf",
    "snippets/normal-profile.conf",
    "snippets/stream-profile.conf",
    "snippets/security-headers.conf",
    "snippets/tls.conf",
]

# Connections an nginx worker keeps for page loads and static files besides streams.
PAGE_CONNECTIONS = 1024
# File descriptors beyond the connections: static files being sent, logs, listeners.
FD_HEADROOM = 1024


def _default_upstream() -> str:
    # The first address gunicorn binds (conf/gunicorn.py reads the same variable).
    return os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")[0]


class Command(BaseCommand):
    help = "Render the nginx configuration (conf/nginx/) into --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="directory to write the config into")
        parser.add_argument("--server-name", default="_", help="nginx server_name")
        parser.add_argument(
            "--listen", default="80,[::]:80", help="plain HTTP [address:]port, comma-separated"
        )
        parser.add_argument(
            "--tls-listen", default="443,[::]:443", help="HTTPS [address:]port, comma-separated"
        )
        parser.add_argument("--cert", default="", help="certificate chain; enables TLS + HTTP/2")
        parser.add_argument("--key", default="", help="the certificate's private key")
        parser.add_argument("--upstream", default=_default_upstream(), help="gunicorn address")
        parser.add_argument("--static-root", default=str(settings.STATIC_ROOT))
        parser.add_argument("--user", default="www-data", help="user of nginx's workers")
        parser.add_argument("--worker-processes", default="auto")
        parser.add_argument("--mime-types", default="/etc/nginx/mime.types")
        parser.add_argument(
            "--runtime-dir",
            default="",
            help="put pid, logs and temp files here (default: Debian's /run and /var/log)",
        )
        # A browser sends its headers in one packet; 10 s still covers a slow mobile link.
        parser.add_argument("--client-timeout", type=int, default=10)
        # Pages render in milliseconds; the slowest (a month range, a broad search) in a
        # few seconds. 30 s frees a stuck request's connection well before users give up.
        parser.add_argument("--read-timeout", type=int, default=30)
        parser.add_argument("--send-timeout", type=int, default=30)
        parser.add_argument("--keepalive-timeout", type=int, default=30)
        # Four keep-alive intervals (15 s each): only a dead or wedged worker misses four.
        parser.add_argument("--stream-read-timeout", type=int, default=60)
        # A browser that has not read for a minute is asleep or gone.
        parser.add_argument("--stream-send-timeout", type=int, default=60)
        # A reader with a dozen tabs fits, as do a few readers behind one NAT.
        parser.add_argument("--streams-per-ip", type=int, default=32)
        # 8,000 streams = 16,000 connections per nginx worker (two per stream); with the
        # headroom above, worker_rlimit_nofile stays under a typical 20,000-file limit.
        parser.add_argument("--streams-per-worker", type=int, default=8000)
        parser.add_argument("--max-body-size", default="1m")
        # Login form posts per client address and minute: a person mistyping fits,
        # a password-guessing script does not (django-axes also locks after 5 failures).
        parser.add_argument("--login-rate", type=int, default=10)
        # Posts above the rate let through at once before the 429s start.
        parser.add_argument("--login-burst", type=int, default=5)

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["cert"]) != bool(options["key"]):
            raise CommandError("--cert and --key go together")
        out = Path(options["out"]).resolve()
        context = _context(out, options)
        for name, text in render(context).items():
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        if context["temp_dir"]:
            Path(context["temp_dir"]).mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Wrote {out}; check it with: nginx -t -c {out}/nginx.conf")


def _context(out: Path, options: dict[str, Any]) -> dict[str, Any]:
    runtime = Path(options["runtime_dir"]).resolve() if options["runtime_dir"] else None
    stream_connections = 2 * options["streams_per_worker"]
    worker_connections = stream_connections + PAGE_CONNECTIONS
    return {
        "out_dir": out,
        "server_name": options["server_name"],
        "listen": _addresses(options["listen"]),
        "tls_listen": _addresses(options["tls_listen"]),
        "tls": bool(options["cert"]),
        "https_port_suffix": _port_suffix(_addresses(options["tls_listen"])[0]),
        "cert": Path(options["cert"]).resolve() if options["cert"] else "",
        "key": Path(options["key"]).resolve() if options["key"] else "",
        "upstream": options["upstream"],
        "static_root": Path(options["static_root"]).resolve(),
        "user": options["user"],
        "worker_processes": options["worker_processes"],
        "mime_types": options["mime_types"],
        "pid_path": runtime / "nginx.pid" if runtime else "/run/nginx.pid",
        "error_log": runtime / "error.log" if runtime else "/var/log/nginx/error.log",
        "access_log": runtime / "access.log" if runtime else "/var/log/nginx/access.log",
        "temp_dir": runtime / "tmp" if runtime else "",
        "client_timeout": options["client_timeout"],
        "read_timeout": options["read_timeout"],
        "send_timeout": options["send_timeout"],
        "keepalive_timeout": options["keepalive_timeout"],
        "stream_read_timeout": options["stream_read_timeout"],
        "stream_send_timeout": options["stream_send_timeout"],
        "streams_per_ip": options["streams_per_ip"],
        "streams_per_worker": options["streams_per_worker"],
        "stream_connections": stream_connections,
        "page_connections": PAGE_CONNECTIONS,
        "worker_connections": worker_connections,
        "fd_headroom": FD_HEADROOM,
        "worker_rlimit_nofile": worker_connections + FD_HEADROOM,
        "max_body_size": options["max_body_size"],
        "login_rate": options["login_rate"],
        "login_burst": options["login_burst"],
    }


def _addresses(raw: str) -> list[str]:
    return [address.strip() for address in raw.split(",") if address.strip()]


def _port_suffix(listen: str) -> str:
    """``:port`` for redirects to HTTPS, empty for the default port."""
    port = listen.rsplit(":", 1)[-1]
    return "" if port == "443" else f":{port}"


def render(context: dict[str, Any]) -> dict[str, str]:
    """Each template's name and its rendered text."""
    engine = Engine(dirs=[str(TEMPLATE_DIR)], autoescape=False)
    return {name: engine.get_template(name).render(Context(context)) for name in TEMPLATES}
