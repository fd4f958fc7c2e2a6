"""/docs in a real headless Chromium, allowed to reach only the instance.

Every request the page makes is let through only to 127.0.0.1; any other is
aborted and fails the test, as does any request that fails or answers >= 400.
The page must render the operations list; a screenshot is kept in the test's
temporary directory (its path is printed).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.distributed.support import Instance
from tests.support import services

SECRET = "docs-browser-tests-secret-key-0123456789"


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        services.unavailable("Chromium (Debian's chromium package)", "not installed")
    return str(found)


def test_docs_render_every_operation_without_leaving_loopback(tmp_path: Path) -> None:
    browser_path = chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    instance = Instance(
        {"DATABASE_URL": "memory://", "SECRET_KEY": SECRET, "AUTH_DISABLED": "0"},
        tmp_path / "gunicorn.log",
    ).start()
    elsewhere: list[str] = []
    failed: list[str] = []
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=browser_path,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 2400})

            def only_loopback(route: object) -> None:
                url = route.request.url  # type: ignore[attr-defined]
                if urlsplit(url).hostname == "127.0.0.1":
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    elsewhere.append(url)
                    route.abort()  # type: ignore[attr-defined]

            page.route("**/*", only_loopback)
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.on(
                "response",
                lambda resp: failed.append(resp.url) if resp.status >= 400 else None,
            )
            page.goto(
                f"http://127.0.0.1:{instance.port}/docs", wait_until="networkidle"
            )
            page.wait_for_selector(".opblock", timeout=15_000)
            operations = page.locator(".opblock").count()
            shot = tmp_path / "docs.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            browser.close()
    finally:
        instance.stop()
    assert elsewhere == [] and failed == []
    assert operations >= 26  # every path and method of the document
    assert shot.stat().st_size > 10_000
