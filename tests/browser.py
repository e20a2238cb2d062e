"""Headless Chromium for the browser tests (Debian's /usr/bin/chromium, driven by Playwright).

No browser is downloaded: `scripts/install-system-deps` (run by `make test`)
installs Debian's chromium, and Playwright drives it through
``executable_path``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright

CHROMIUM = os.environ.get("DOCGRAPH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions",
]


def chromium_path() -> str:
    path = shutil.which(CHROMIUM) or CHROMIUM
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} not found: run scripts/install-system-deps "
                           "(make test does), or set DOCGRAPH_TEST_CHROMIUM")
    return path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=chromium_path(),
                                                    args=args, headless=True)
        try:
            yield instance
        finally:
            await instance.close()


class ConsoleLog:
    """Everything a page logged or threw, to assert that nothing went wrong."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        self.errors: list[str] = []
        # Requests the browser gave up itself (net::ERR_ABORTED): one in flight when
        # the page reloads or closes, say a look for a preview. Not the server's doing
        # (a refused or broken answer fails as ERR_FAILED, ERR_CONNECTION_RESET...).
        self.aborted: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("requestfailed", self._failed)

    def _failed(self, request: Request) -> None:
        text = f"requestfailed: {request.method} {request.url}: {request.failure}"
        (self.aborted if request.failure == "net::ERR_ABORTED" else self.errors).append(text)

    def _console(self, message: ConsoleMessage) -> None:
        text = f"{message.type}: {message.text}"
        self.messages.append(text)
        if message.type in ("error", "assert"):
            self.errors.append(text)
