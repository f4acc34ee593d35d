"""Headless Chromium for the dashboard tests: Debian's chromium driven by Playwright (no browser
download), every outside request made to fail, and what a page does recorded: its requests, console
errors, bytes transferred; axe-core run in the page from axe-playwright-python's local axe.min.js."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# A proxy on a closed loopback port: any request that is not to the page's own host fails at once.
NO_NETWORK = ["--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>;127.0.0.1"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "dashboard"


def launch_chromium(playwright):
    """Debian's chromium, headless, offline; skips (fails in CI) when it is not installed."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: CI must run the dashboard tests (./scripts/test installs it)")
        pytest.skip("chromium is not installed (./scripts/test installs it)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                      "--disable-dev-shm-usage", *NO_NETWORK])


def axe_source() -> str:
    import axe_playwright_python
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


@dataclass
class PageRecord:
    """What one page did: every request's URL, console errors and page errors, responses' sizes."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finished: list = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and self.errors.append(_with_source(m)))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfinished", lambda r: self.finished.append(r))

    def other_hosts(self, port: int) -> list[str]:
        return [u for u in self.requests if urlsplit(u).netloc != f"127.0.0.1:{port}" and not u.startswith("data:")]

    def bytes_transferred(self) -> int:
        """Response headers and bodies of every request finished so far, as the browser counted them."""
        total = 0
        for request in self.finished:
            sizes = request.sizes()
            total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        return total


def _with_source(message) -> str:
    """A console error with the URL it came from (a failed load names no URL in its text)."""
    url = (message.location or {}).get("url")
    return f"{message.text} [{url}]" if url else message.text


def run_axe(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is (evaluated in the page, so the
    page's Content-Security-Policy need not allow an injected script)."""
    page.evaluate(axe_source())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
