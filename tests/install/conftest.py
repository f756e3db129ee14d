"""Fixtures of the install tests: the workspace's wheels, served as a package index.

``published.py`` (beside this file) is imported as a plain module, as in ``tests/deploy``.
"""

from __future__ import annotations

import functools
import html
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from published import run  # noqa: E402


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every workspace package built as a wheel, as a release would build it."""
    dist = tmp_path_factory.mktemp("index") / "dist"
    run("uv", "build", "--all-packages", "--wheel", "--out-dir", dist, "--quiet")
    return dist


@pytest.fixture(scope="session")
def index_url(wheels: Path) -> Iterator[str]:
    """Our wheels as a simple index (one page per project) on a loopback HTTP server."""
    dist, root = wheels, wheels.parent
    simple = root / "simple"
    for wheel in dist.glob("*.whl"):
        project = wheel.name.split("-", 1)[0].replace("_", "-").lower()
        page = simple / project
        page.mkdir(parents=True)
        (page / wheel.name).symlink_to(wheel)
        link = html.escape(wheel.name)
        (page / "index.html").write_text(f'<a href="{link}">{link}</a>\n', encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
