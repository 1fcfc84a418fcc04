"""Headless Chromium for end-to-end tests (Debian's package; Playwright drives it)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until(page: Page, expression: str, timeout: int = 15_000) -> None:
    """Wait until a JavaScript expression is true in the page.

    Playwright's wait_for_function compiles its predicate with eval in the
    page, which the site's Content-Security-Policy (no 'unsafe-eval')
    refuses; page.evaluate goes through the debugger protocol and is not
    subject to it. ``timeout`` is in milliseconds, as in Playwright.
    """
    deadline = time.monotonic() + timeout / 1000
    while not _holds(page, expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout} ms: {expression}")
        page.wait_for_timeout(50)


def _holds(page: Page, expression: str) -> bool:
    try:
        return bool(page.evaluate(expression))
    except PlaywrightError as exc:
        # The page navigated (a reload the test waits for) while it evaluated.
        if "Execution context was destroyed" in str(exc):
            return False
        raise
