"""The dashboard in headless Chromium (Playwright driving Debian's chromium, offline) against a real
server on the simulator: sign in, create by phone and see the code, READY without a reload, send a
text and watch it reach `read`, send an image and a document and watch them reach `read` while the
other client's view links the file it got, delete; a scoped key sees only its clients; no console
errors, no request to another host, the CSP header and no inline script; axe-core finds no serious or critical
violation; readable at 360 px. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from tests.browser_page import ARTIFACTS, PageRecord, launch_chromium, run_axe, screenshot
from tests.server_process import API_KEY, ServerProcess

pytestmark = pytest.mark.slow
from playwright import sync_api  # noqa: E402  (pinned in requirements.txt: the tests need it)

ALICE, BOB = "alice", "bob"
ALICE_PHONE, BOB_PHONE = "+49 151 1111111", "+49 151 2222222"
WAIT_MS = 20_000
HOOK = "http://127.0.0.1:9/hook"  # a closed loopback port


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # the simulator "enters" a code SIM_PAIR_DELAY after it was shown: long enough to see it on the page
    # webhooks may point to loopback here: the test's webhook is a closed port on 127.0.0.1 (refused at once)
    # MEDIA_MAX_MB=1: the smallest limit, so that the page's answer to a file over it is quick to test
    env = {"SIM_PAIR_DELAY": "4", "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8", "MEDIA_MAX_MB": "1"}
    server = ServerProcess(tmp_path_factory.mktemp("dashboard") / "data", env).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def open_page(browser, server, width=1280, height=900):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    record = PageRecord()
    record.watch(page)
    response = page.goto(f"http://127.0.0.1:{server.port}/")
    return page, record, response


def sign_in(page, key):
    page.fill("#signin-key", key)
    page.press("#signin-key", "Enter")
    page.wait_for_selector("#view-accounts:not([hidden])")


def create(page, client_id, phone, method="code"):
    if not page.is_visible("#create-form"):
        page.click("#create-panel summary")
    page.fill("#create-id", client_id)
    page.fill("#create-phone", phone)
    page.check(f"#create-form input[value={method}]")
    page.click("#create-form button[type=submit]")


def card(client_id):
    return f'[data-client="{client_id}"]'


def assert_clean(record, server):
    assert record.errors == [], record.errors
    assert record.other_hosts(server.port) == []


def test_page_headers_and_no_inline_script(browser, server):
    page, record, response = open_page(browser, server)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    page.wait_for_selector("#view-signin:not([hidden])")
    assert page.is_hidden("#tabs") and page.is_hidden("#who")  # nothing but the sign-in before it
    inline = page.evaluate("""() => [...document.scripts].filter(s => !s.src).length
        + document.querySelectorAll('style, [style]').length""")
    assert inline == 0
    assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly; nothing else is set
    screenshot(page, "signin")
    assert run_axe(page) == []
    assert_clean(record, server)
    page.context.close()


def test_admin_pairs_sends_watches_read_and_deletes(browser, server):
    page, record, _ = open_page(browser, server)
    sign_in(page, API_KEY)
    page.evaluate("window.sameDocument = true")  # gone if anything below reloads the page
    weight = record.bytes_transferred()
    (ARTIFACTS / "page-weight.txt").write_text(f"{weight} bytes transferred: the page, its files and first data\n")
    print(f"\npage weight: {weight} bytes")
    assert weight < 100_000

    create(page, ALICE, ALICE_PHONE)
    code = page.wait_for_selector(f"{card(ALICE)} .code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert "works for" in page.inner_text(f"{card(ALICE)} .countdown")
    screenshot(page, "accounts-pairing")
    assert run_axe(page) == []
    page.wait_for_selector(f"{card(ALICE)} .state-READY")  # no reload: the poll moved it
    create(page, BOB, BOB_PHONE, method="qr")
    page.wait_for_function(f"""() => {{ const img = document.querySelector('{card(BOB)} .qr-box[open] img');
        return img && img.complete && img.naturalWidth > 100; }}""")  # the PNG of GET .../qr, shown
    page.locator(card(BOB)).screenshot(path=str(ARTIFACTS / "accounts-qr.png"))
    page.wait_for_selector(f"{card(BOB)} .state-READY")
    screenshot(page, "accounts")

    page.click('#tabs a[data-view="conversations"]')
    page.select_option("#conv-client", ALICE)
    page.fill("#send-to", BOB_PHONE)
    page.fill("#send-text", "Hello from the dashboard")
    page.click("#send-form button[type=submit]")
    page.wait_for_selector('#messages li.out [data-status="read"]')
    screenshot(page, "conversations")
    assert run_axe(page) == []

    page.click('#tabs a[data-view="accounts"]')
    page.click("#create-panel summary")  # closed: the main page as one sees it day to day
    page.wait_for_function(f"""() => document.querySelector('{card(ALICE)}').textContent.includes('1 / 0')""")
    screenshot(page, "main")  # the alice card counts the text sent above (from the counters of /metrics)
    page.click(f"{card(ALICE)} .actions button:text('Webhook')")
    page.fill(f"#hook-url-{ALICE}", HOOK)
    page.click(f"{card(ALICE)} form.webhook button[type=submit]")
    page.wait_for_selector(f"{card(ALICE)} form.webhook [role=status]:text('Signing secret')")
    page.click(f"{card(ALICE)} form.webhook button:text('Send a test delivery')")
    page.wait_for_selector(f"{card(ALICE)} form.webhook [role=status]:text('queued for delivery')")
    assert server.request("GET", f"/api/clients/{ALICE}/webhook").json["url"] == HOOK

    page.click('#tabs a[data-view="deliveries"]')
    page.wait_for_selector("#events-table tbody tr")
    page.select_option("#replay-client", ALICE)
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#replay-result:text('queued for delivery again')")
    page.select_option("#del-client", ALICE)
    page.select_option("#del-state", "pending")  # the closed port refuses: they wait for their retry
    page.wait_for_selector(f"#events-table tbody tr td:text('{ALICE}')")
    screenshot(page, "deliveries")
    assert run_axe(page) == []
    page.click('#tabs a[data-view="health"]')
    page.wait_for_selector("#health-figures dd")
    assert "reachable" in page.inner_text("#health-figures")
    screenshot(page, "health")
    assert run_axe(page) == []

    page.click('#tabs a[data-view="accounts"]')
    page.click(f"{card(ALICE)} button.danger")
    assert "Linked devices" in page.inner_text("#confirm-text")
    page.click("#confirm-ok")
    page.wait_for_selector(card(ALICE), state="detached")
    assert [c["clientId"] for c in server.clients()] == [BOB]
    assert page.evaluate("window.sameDocument") is True  # everything above happened without a reload
    assert_clean(record, server)
    page.context.close()


def small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def small_pdf() -> bytes:
    """A one-page PDF (what libmagic sniffs as application/pdf), made here rather than kept as a file."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>"]
    body, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return body + xref + b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % len(body)


def send_file(page, name: str, mime: str, data: bytes, caption: str = "") -> str:
    """Choose a file on the page and send it; the kind the page chose for it."""
    page.set_input_files("#file-input", {"name": name, "mimeType": mime, "buffer": data})
    kind = page.input_value("#file-kind")
    page.fill("#file-caption", caption)
    page.click("#file-form button[type=submit]")
    return kind


def sent_item(name: str) -> str:
    return f"#messages li.out:has(.file:text('{name}'))"


def test_sends_files_and_the_other_client_links_what_it_got(browser, server):
    for client_id, phone in (("erin", "+49 151 5555555"), ("fred", "+49 151 6666666")):
        assert server.request("POST", "/api/clients", {"clientId": client_id, "phone": phone}).status == 201
    server.wait_for(lambda: {c["clientId"] for c in server.clients() if c["state"] == "READY"} >= {"erin", "fred"},
                    what="erin and fred READY", poll=0.2)
    page, record, _ = open_page(browser, server)
    sign_in(page, API_KEY)
    page.click('#tabs a[data-view="conversations"]')
    page.select_option("#conv-client", "erin")
    page.fill("#send-to", "+49 151 6666666")
    page.focus("#send-form button[type=submit]")
    page.keyboard.press("Tab")  # the file field is next in the keyboard order, reached like any field
    assert page.evaluate("document.activeElement.id") == "file-input"
    page.click("#file-form button[type=submit]")  # no file chosen: said, nothing sent
    assert "Choose a file" in page.inner_text("#file-error")

    png, pdf = small_png(), small_pdf()
    assert send_file(page, "dot.png", "image/png", png, "A red dot") == "image"
    page.wait_for_selector(f'{sent_item("dot.png")} [data-status="read"]')
    assert send_file(page, "report.pdf", "application/pdf", pdf, "The report") == "document"
    page.wait_for_selector(f'{sent_item("report.pdf")} [data-status="read"]')
    assert page.inner_text("#file-error") == ""
    assert "The report" in page.inner_text(sent_item("report.pdf"))

    too_big = b"\0" * (1024 * 1024 + 1)  # one byte over MEDIA_MAX_MB=1
    send_file(page, "big.bin", "application/octet-stream", too_big)
    page.wait_for_selector("#file-error:text('too large')")
    assert "MEDIA_MAX_MB" in page.inner_text("#file-error")
    assert page.locator(sent_item("big.bin")).count() == 0
    screenshot(page, "conversations-media")
    assert run_axe(page) == []

    page.select_option("#conv-client", "fred")  # the other client's view: what it got, with links once stored
    link = page.wait_for_selector("#messages li.in a:text('report.pdf')")
    assert "The report" in page.inner_text("#messages li.in:has(a:text('report.pdf'))")
    page.wait_for_selector("#messages li.in:has(.kind:text('image')) a")
    href = link.get_attribute("href")
    parts = urlsplit(href)
    assert parts.netloc == f"127.0.0.1:{server.port}" and parts.path.startswith("/media/")
    fetched = server.request("GET", f"{parts.path}?{parts.query}", key=None)  # a signed link: no key
    assert fetched.status == 200 and hashlib.sha256(fetched.body).hexdigest() == hashlib.sha256(pdf).hexdigest()
    with page.expect_download() as download:
        link.click()  # a download, not a page: the browser saves the file and the page stays
    saved = Path(download.value.path()).read_bytes()
    assert hashlib.sha256(saved).hexdigest() == hashlib.sha256(pdf).hexdigest()
    assert download.value.suggested_filename == "report.pdf"
    screenshot(page, "conversations-media-received")
    assert run_axe(page) == []
    page.set_viewport_size({"width": 360, "height": 780})
    screenshot(page, "conversations-media-360px")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 360)
        .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, wide  # no sideways scrolling at 360 px
    # the one console error is Chromium's own line for the 413 above (it logs every answer >= 400 of a fetch)
    assert len(record.errors) == 1 and "status of 413" in record.errors[0], record.errors
    assert record.other_hosts(server.port) == []
    page.context.close()


def test_scoped_key_sees_only_its_clients(browser, server):
    if not any(c["clientId"] == BOB for c in server.clients()):
        pytest.skip("needs the clients the admin test made")
    server.request("POST", "/api/clients", {"clientId": "carol", "phone": "+49 151 3333333"})
    made = server.request("POST", "/api/keys", {"clients": [BOB], "label": "bob only"})
    assert made.status == 201
    page, record, _ = open_page(browser, server, width=360, height=780)
    sign_in(page, made.json["key"])
    page.wait_for_selector(card(BOB))
    listed = page.eval_on_selector_all("[data-client]", "cards => cards.map(c => c.dataset.client)")
    assert listed == [BOB]
    assert page.is_hidden("#create-panel")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling at 360 px
    screenshot(page, "scoped-360px")
    assert run_axe(page) == []
    page.click("#sign-out")
    page.wait_for_selector("#view-signin:not([hidden])")
    assert made.json["key"] not in server.log() and API_KEY not in server.log()  # no key in a log line
    assert server.request("GET", "/dashboard/session", key=None).json["signedIn"] is False
    assert_clean(record, server)
    page.context.close()


def test_keyboard_only_sign_in_and_navigation(browser, server):
    page, record, _ = open_page(browser, server, width=360, height=780)
    page.wait_for_selector("#view-signin:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "signin-key"  # the page puts focus there
    page.keyboard.type(API_KEY)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-accounts:not([hidden])")
    page.focus('#tabs a[data-view="health"]')
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-health:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "health-title"
    page.wait_for_selector("#health-figures dd")
    screenshot(page, "health-360px")
    assert_clean(record, server)
    page.context.close()


def test_an_expired_code_offers_a_new_one(browser, tmp_path):
    # a window of 4 s that nobody uses: the code dies and the page offers "New code"
    env = {"SIM_PAIR_DELAY": "3600", "SIM_PAIRING_WINDOW": "4"}
    server = ServerProcess(tmp_path / "data", env).start()
    try:
        page, record, _ = open_page(browser, server)
        sign_in(page, API_KEY)
        create(page, "dora", "+49 151 4444444")
        first = page.wait_for_selector(f"{card('dora')} .code").inner_text()
        page.wait_for_selector(f"{card('dora')} button:text('New code'):visible", timeout=30_000)
        assert "expired" in page.inner_text(card("dora")).lower()
        screenshot(page, "accounts-expired")
        page.click(f"{card('dora')} button:text('New code'):visible")
        page.wait_for_function(f"""() => {{ const code = document.querySelector('{card("dora")} .code');
            return code && code.textContent !== {first!r}; }}""")
        assert "works for" in page.inner_text(f"{card('dora')} .countdown")
        assert_clean(record, server)
        page.context.close()
    finally:
        server.close()
