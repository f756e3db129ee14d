"""Who may see and change what: a real ``memory ui`` subprocess, real HTTP, real tokens
(memory-core's ``TokenStore``, the same ones the MCP server accepts)."""

from __future__ import annotations

import ipaddress
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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
        erased = memory.audit_log.query("team-a", operation="delete_episode")
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
        token = csrf.group(1)
        bad_tag = http(
            "POST",
            server.url + f"/episodes/{eid}/tags",
            form={"csrf": token, "tags": "fine, bad\x01tag"},
            cookie=cookie,
        )
        assert bad_tag.status == 400 and "Traceback" not in bad_tag.body
        assert re.search(r'class="field">tags?\b', bad_tag.body), bad_tag.body[-600:]
        missing = http(
            "POST",
            server.url + f"/patterns/{uuid.uuid4()}/wrong",
            form={"csrf": token, "episode": eid},
            cookie=cookie,
        )
        assert missing.status == 404 and "pattern not found" in missing.body
        not_uuid = http(
            "POST",
            server.url + f"/patterns/{uuid.uuid4()}/wrong",
            form={"csrf": token, "episode": "nope"},
            cookie=cookie,
        )
        assert not_uuid.status == 400 and 'class="field">episode<' in not_uuid.body
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


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "memory ui test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "ui-cert.pem", directory / "ui-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_tls_serves_https_with_a_secure_session_cookie(env: Any) -> None:
    cert, key = _certificate(Path(env.root))
    half = subprocess.run(
        [sys.executable, "-m", "memory_cli", "ui", "--port", "0", "--tls-cert", str(cert)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert half.returncode == 2 and "--tls-key: TLS needs both" in half.stderr

    memory = open_memory()
    record(memory, "Serve the dashboard over HTTPS", tenant="team-a")
    token = TokenStore(memory.storage).create("team-a", "read").token
    memory.close()
    server = start_ui("--auth", "token", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        request = urllib.request.Request(server.url + "/login")
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            cookie = response.headers["set-cookie"]
            page = response.read().decode()
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf is not None
        form = urllib.parse.urlencode({"csrf": csrf.group(1), "token": token, "next": "/"})
        login = urllib.request.Request(
            server.url + "/login",
            data=form.encode(),
            headers={"Cookie": cookie.split(";")[0]},
            method="POST",
        )
        opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPSHandler(context=context)
        )
        with pytest.raises(urllib.error.HTTPError) as redirect:  # 303: no redirect handler
            opener.open(login, timeout=30)
        assert redirect.value.code == 303
        session = redirect.value.headers["set-cookie"].split(";")[0]
        home = urllib.request.Request(server.url + "/", headers={"Cookie": session})
        with urllib.request.urlopen(home, context=context, timeout=30) as response:
            assert "Serve the dashboard over HTTPS" in response.read().decode()
    finally:
        server.stop()
