"""irclogger.warmup: a new worker does Django's lazy first-request work before it listens."""

from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.urls import clear_url_caches, get_resolver

from irclogger.params import zone_names
from irclogger.warmup import TEMPLATES, warm_up


def test_it_builds_what_a_first_page_would() -> None:
    clear_url_caches()
    zone_names.cache_clear()
    backend = engines["django"]
    assert isinstance(backend, DjangoTemplates)
    loader = backend.engine.template_loaders[0]  # the cached loader, as in production
    loader.reset()
    # Django's own flag: whether the reverse lookups were built (no public one says so).
    assert not get_resolver()._populated  # type: ignore[attr-defined]
    warm_up()
    assert get_resolver()._populated  # type: ignore[attr-defined]
    assert zone_names.cache_info().currsize == 1
    names = {path.relative_to(TEMPLATES).as_posix() for path in TEMPLATES.rglob("*.html")}
    assert names and names <= set(loader.get_template_cache)
