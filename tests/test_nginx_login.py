"""Real nginx in front of real gunicorn: login posts are rate-limited per client address."""

from pathlib import Path

import pytest

from irclogger.models import Channel
from tests.nginx import get, nginx
from tests.servers import gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_it_answers_429_to_login_posts_past_the_burst(
    tmp_path: Path, public_channel: Channel, path: str
) -> None:
    with gunicorn(tmp_path) as app, nginx(tmp_path, app.port, login_burst=3) as proxy:
        # No CSRF token: Django answers 403 without checking any password, so
        # every 429 here is nginx's own.
        posts = [
            get(proxy.port, path, FORM, method="POST", body=b"username=a&password=b").status
            for _ in range(8)
        ]
        pages = [get(proxy.port, path).status for _ in range(8)]
        elsewhere = get(proxy.port, "/libera/python/", FORM, method="POST", body=b"x=1").status
    assert posts == [403] * 4 + [429] * 4  # one at the rate, three of burst
    assert set(pages) == {200}  # the form itself is never limited
    assert elsewhere != 429
