"""GET /docs in headless Chromium with every outside fetch made to fail: the page renders from the
assets the service serves itself and lists every operation of /openapi.json; a screenshot is kept."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# A proxy on a closed loopback port: any fetch that is not to the page's own host fails at once.
NO_NETWORK = ["--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>;127.0.0.1"]


def chromium(*args: str, timeout: float = 90) -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: CI must run the docs page test (./scripts/test installs it)")
        pytest.skip("chromium is not installed (./scripts/test installs it)")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-extensions", "--disable-background-networking",
               "--disable-component-update", *NO_NETWORK, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("docs") / "data").start()
    yield server
    server.close()


def test_docs_page_lists_every_operation_offline(server, tmp_path):
    doc = server.request("GET", "/openapi.json", key=None).json
    url = f"http://127.0.0.1:{server.port}/docs"
    dom = chromium("--virtual-time-budget=15000", "--dump-dom", url)
    listed = set(re.findall(r'class="opblock-summary-method">(\w+)<.*?data-path="([^"]+)"', dom))
    expected = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert expected and expected <= listed, f"not rendered: {sorted(expected - listed)}"
    assert "Failed to load API definition" not in dom

    screenshot = tmp_path / "docs.png"
    chromium("--virtual-time-budget=15000", "--window-size=1280,2400", f"--screenshot={screenshot}", url)
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
    print(f"\nscreenshot: {screenshot}")


def test_assets_come_from_the_service(server):
    page = server.request("GET", "/docs", key=None)
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.body.decode())
    assert sources and all(s.startswith("/docs/assets/") for s in sources)
    for source in sources:
        assert server.request("GET", source, key=None).status == 200, source
