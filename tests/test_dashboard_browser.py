"""The dashboard in headless Chromium (Playwright driving Debian's chromium, offline) against a real
server on the simulator: sign in, create by phone and see the code, READY without a reload, send a
text and watch it reach `read`, delete; a scoped key sees only its clients; no console errors, no
request to another host, the CSP header and no inline script; axe-core finds no serious or critical
violation; readable at 360 px. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import re

import pytest

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
    env = {"SIM_PAIR_DELAY": "4", "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}
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
