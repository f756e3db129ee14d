"""``memory ui``: a web dashboard over the same store, tenant and configuration as the CLI.

Server-rendered pages (Starlette + Jinja2, charts as inline SVG), readable with JavaScript
off. Modules: ``app`` (the Starlette app and its middleware), ``routes`` (pages and forms),
``auth`` (loopback or bearer tokens, sessions, CSRF), ``params`` (query parameters),
``templates`` (Jinja2), ``charts`` (SVG), ``learning`` (the Learning page's numbers),
``server`` (uvicorn)::

    from memory_cli.ui import Gate, create_app
    app = create_app(memory, Gate(memory, require_tokens=False))
"""

from memory_cli.ui.app import create_app
from memory_cli.ui.auth import Gate, NoTokensError, is_loopback, tokens_required
from memory_cli.ui.server import serve

__all__ = ["Gate", "NoTokensError", "create_app", "is_loopback", "serve", "tokens_required"]
