"""Who may see and change what: a real ``memory ui`` subprocess, real HTTP, real tokens
(memory-core's ``TokenStore``, the same ones the MCP server accepts)."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from memory_core.security import TokenStore
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .conftest import Server, navigate, open_memory, record, screenshot, start_ui


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    form: dict[str, str] | None = None,
    cookie: str | None = None,
) -> Reply:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = cookie
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=30) as response:
            return Reply(response.status, dict(response.headers), response.read().decode())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read().decode())


def test_non_loopback_bind_without_tokens_refuses_to_start() -> None:
    for args in (["--host", "0.0.0.0"], ["--auth", "token"]):
        done = subprocess.run(
            [sys.executable, "-m", "memory_cli", "ui", "--port", "0", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "refusing to start" in done.stderr and "token create" in done.stderr
        assert "Traceback" not in done.stderr


@dataclass
class TwoTenants:
    server: Server
    ids: dict[str, str]
    tokens: dict[str, str]


@pytest.fixture
def two_tenants(env: object) -> Iterator[TwoTenants]:
    memory = open_memory()
    ids = {
        "a": record(memory, "Tune the alphawidget cache eviction", tenant="team-a"),
        "b": record(
            memory,
            "Rotate the betagizmo signing keys",
            tenant="team-b",
            steps=(("shell", "rotate betagizmo keys", "rotated", True),),
        ),
    }
    store = TokenStore(memory.storage)
    tokens = {
        "a-read": store.create("team-a", "read", name="viewer").token,
        "a-write": store.create("team-a", "write", name="curator").token,
        "a-admin": store.create("team-a", "admin", name="operator").token,
        "b-read": store.create("team-b", "read").token,
    }
    memory.close()
    server = start_ui("--auth", "token")
    try:
        yield TwoTenants(server, ids, tokens)
    finally:
        server.stop()


def test_tokens_are_required_and_checked(two_tenants: TwoTenants) -> None:
    url = two_tenants.server.url
    anonymous = http("GET", url + "/")
    assert anonymous.status == 303 and anonymous.headers["location"].startswith("/login")
    assert http("GET", url + "/", token="mcm_000000000000_" + "x" * 43).status == 401
    reply = http("GET", url + "/", token=two_tenants.tokens["a-read"])
    assert reply.status == 200 and "alphawidget" in reply.body


def test_read_scope_token_cannot_delete(two_tenants: TwoTenants) -> None:
    """Scopes as over MCP: read reads, write tags and gives feedback, admin deletes."""
    url, eid = two_tenants.server.url, two_tenants.ids["a"]
    for name in ("a-read", "a-write"):
        refused = http("POST", url + f"/episodes/{eid}/delete", token=two_tenants.tokens[name])
        assert refused.status == 403 and "admin-scope token" in refused.body, name
    assert http("GET", url + f"/episodes/{eid}", token=two_tenants.tokens["a-read"]).status == 200
    tags = http(
        "POST",
        url + f"/episodes/{eid}/tags",
        token=two_tenants.tokens["a-read"],
        form={"tags": "x"},
    )
    assert tags.status == 403
    tags = http(
        "POST",
        url + f"/episodes/{eid}/tags",
        token=two_tenants.tokens["a-write"],
        form={"tags": "x"},
    )
    assert tags.status == 303

    done = http("POST", url + f"/episodes/{eid}/delete", token=two_tenants.tokens["a-admin"])
    assert done.status == 303
    assert http("GET", url + f"/episodes/{eid}", token=two_tenants.tokens["a-read"]).status == 404

    # The audit log names the token that erased it (never the token itself).
    two_tenants.server.stop()
    memory = open_memory()
    try:
        erased = memory.audit_log.query("team-a", operation="erase_episode")
    finally:
        memory.close()
    admin_id = two_tenants.tokens["a-admin"].split("_")[1]
    assert [(r.principal, r.target_ids) for r in erased] == [(f"ui:token:{admin_id}", [eid])]


def test_a_tenant_token_never_shows_another_tenants_data(two_tenants: TwoTenants) -> None:
    url, a_token = two_tenants.server.url, two_tenants.tokens["a-read"]
    b_id = two_tenants.ids["b"]
    for path in ("/", "/search?q=rotate+the+signing+keys", "/patterns", "/learning", "/health"):
        reply = http("GET", url + path, token=a_token)
        assert reply.status == 200, path
        assert "betagizmo" not in reply.body and b_id not in reply.body, path
    assert http("GET", url + f"/episodes/{b_id}", token=a_token).status == 404
    assert (
        http("POST", url + f"/episodes/{b_id}/delete", token=two_tenants.tokens["a-admin"]).status
        == 404
    )
    own = http("GET", url + f"/episodes/{b_id}", token=two_tenants.tokens["b-read"])
    assert own.status == 200 and "betagizmo" in own.body


def test_loopback_serves_the_cli_tenant_and_database(env: Any) -> None:
    """``memory --tenant T ui --database-url URL``: the CLI's tenant and store, nothing else."""
    memory = open_memory()
    record(memory, "Tune the alphawidget cache eviction", tenant="team-a")
    record(memory, "Rotate the betagizmo signing keys", tenant="team-b")
    memory.close()
    database_url = str(env.database_url)
    server = start_ui("--database-url", database_url, before=("--tenant", "team-b"))
    try:
        home = http("GET", server.url + "/")
        assert "betagizmo" in home.body and "alphawidget" not in home.body
        assert "tenant <strong>team-b</strong>" in home.body
    finally:
        server.stop()
    other = start_ui("--database-url", "file:" + str(env.root) + "/data/empty.db")
    try:
        assert "No episodes yet" in http("GET", other.url + "/").body
    finally:
        other.stop()


def test_forms_without_the_csrf_token_are_refused(env: object) -> None:
    memory = open_memory()
    eid = record(memory, "Keep this episode through a forged form")
    memory.close()
    server = start_ui()
    try:
        first = http("GET", server.url + "/")
        cookie = first.headers["set-cookie"].split(";")[0]
        for form in ({}, {"csrf": "0" * 64}):
            forged = http("POST", server.url + f"/episodes/{eid}/delete", form=form, cookie=cookie)
            assert forged.status == 403 and "csrf" in forged.body
        page = http("GET", server.url + f"/episodes/{eid}/delete", cookie=cookie)
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.body)
        assert csrf is not None
        ok = http(
            "POST",
            server.url + f"/episodes/{eid}/delete",
            form={"csrf": csrf.group(1)},
            cookie=cookie,
        )
        assert ok.status == 303
        # a loopback bind also refuses foreign Host headers (DNS rebinding)
        request = urllib.request.Request(server.url + "/", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=30)
        assert err.value.code == 400
    finally:
        server.stop()


def test_browser_logs_in_with_a_token(browser: webdriver.Chrome, two_tenants: TwoTenants) -> None:
    browser.delete_all_cookies()
    browser.get(two_tenants.server.url + "/patterns")
    assert "/login" in browser.current_url
    navigate(
        browser, lambda: browser.find_element(By.ID, "token").send_keys("not-a-token", Keys.ENTER)
    )
    assert "token" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    screenshot(browser, "login")
    token = two_tenants.tokens["a-read"]
    navigate(browser, lambda: browser.find_element(By.ID, "token").send_keys(token, Keys.ENTER))
    assert browser.current_url.endswith("/patterns"), browser.find_element(By.TAG_NAME, "main").text
    nav = browser.find_element(By.TAG_NAME, "header").text
    assert "team-a" in nav and "read" in nav
    assert not browser.find_elements(By.XPATH, "//button[normalize-space()='Mark as wrong']")
    browser.get(two_tenants.server.url + "/")
    assert "alphawidget" in browser.find_element(By.TAG_NAME, "main").text
    navigate(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Log out']").click)
    browser.get(two_tenants.server.url + "/")
    assert "/login" in browser.current_url
