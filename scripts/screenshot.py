"""Take the README's screenshot: a demo day page in headless Chromium.

Usage: python scripts/screenshot.py URL OUT.png [--dark] [--focus CSS_SELECTOR]

--focus scrolls the first element that matches to the middle of the view,
so the picture shows, say, a line with colours.

The demo logs hold emoji and CJK text: without fonts-noto-color-emoji and
fonts-noto-cjk (.ci/run installs them) Chromium draws them as empty boxes.
docs/screenshot.png is `make run`'s today page of #python, 1200x800.
"""

import argparse

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--dark", action="store_true")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--focus", default="")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(
            viewport={"width": args.width, "height": args.height},
            color_scheme="dark" if args.dark else "light",
        )
        page.goto(args.url, wait_until="networkidle")
        if args.focus:
            page.locator(args.focus).first.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.screenshot(path=args.out)
        browser.close()


if __name__ == "__main__":
    main()
