"""The pages and form handlers. Each handler resolves who is asking (``Gate``), reads or
writes through ``SelfLearningMemory`` on a worker thread (the memory is synchronous) and
renders a template. Errors become pages that name the field, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode
from uuid import UUID

import anyio.to_thread
from memory_core import (
    EpisodeNotFoundError,
    InvalidInputError,
    MemoryCoreError,
    PatternNotFoundError,
    SelfLearningMemory,
)
from memory_core.security import acting_as
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from memory_cli.ui.auth import LOCAL, SESSION_COOKIE, Access, Gate, Scope
from memory_cli.ui.learning import CacheSampler, LearningCache
from memory_cli.ui.params import ParamError, PatternParams, SearchParams, check_known, int_param
from memory_cli.ui.templates import Templates

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]
MAX_FORM_BYTES = 64 * 1024
RECENT = 25


class Forbidden(Exception):
    def __init__(self, needed: Scope) -> None:
        super().__init__(f"this needs a {needed}-scope token")
        self.needed = needed


class Dashboard:
    """The web app's state: the memory, who may use it, templates and caches."""

    def __init__(self, memory: SelfLearningMemory, gate: Gate) -> None:
        self.memory = memory
        self.gate = gate
        self.templates = Templates()
        self.learning = LearningCache()
        self.cache_samples = CacheSampler()

    # -- plumbing ------------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    def tenant_name(self, access: Access) -> str:
        return access.tenant or self.memory.config.tenant

    def page(
        self, request: Request, name: str, access: Access, status_code: int = 200, **values: Any
    ) -> Response:
        session = request.state.session
        values.setdefault("nav", "")
        values.setdefault("field", None)
        return self.templates.render(
            name,
            status_code,
            access=access,
            tenant=self.tenant_name(access),
            csrf=self.gate.csrf_token(session),
            can_write=access.allows("write"),
            can_delete=access.allows("admin"),  # as over MCP: deletion is destructive
            login_required=self.gate.require_tokens,
            path=request.url.path,
            **values,
        )

    def error(
        self, request: Request, access: Access, status: int, title: str, message: str, **kw: Any
    ) -> Response:
        return self.page(request, "error.html", access, status, title=title, message=message, **kw)

    async def form(self, request: Request) -> dict[str, list[str]]:
        """An urlencoded form (the only kind the pages send), size-limited."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise ParamError("form", f"at most {MAX_FORM_BYTES} bytes")
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

    def routes(self) -> list[Route]:
        g = self.guarded
        return [
            Route("/", g(self.home, "read")),
            Route("/search", g(self.search, "read")),
            Route("/episodes/{episode_id}", g(self.episode, "read")),
            Route("/episodes/{episode_id}/delete", g(self.confirm_delete, "read")),
            Route("/episodes/{episode_id}/delete", g(self.delete, "admin"), methods=["POST"]),
            Route("/episodes/{episode_id}/tags", g(self.tags, "write"), methods=["POST"]),
            Route("/patterns", g(self.patterns, "read")),
            Route("/patterns/{pattern_id}/wrong", g(self.wrong, "write"), methods=["POST"]),
            Route("/learning", g(self.learning_page, "read")),
            Route("/health", g(self.health, "read")),
            Route("/login", self.login_form),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
        ]

    def guarded(
        self, handler: Callable[[Request, Access], Awaitable[Response]], scope: Scope
    ) -> Handler:
        """Authentication, scope, CSRF (on POST) and error pages around one handler."""

        async def endpoint(request: Request) -> Response:
            access = await self.run(self.gate.access, request)
            if access is None:
                if self.gate.bearer(request):
                    return self.templates.render(
                        "login.html",
                        401,
                        error="that token is not valid",
                        next=request.url.path,
                        csrf=self.gate.csrf_token(request.state.session),
                        path="/login",
                    )
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse("/login?" + urlencode({"next": target}), 303)
            try:
                if not access.allows(scope):
                    raise Forbidden(scope)
                if request.method == "POST" and not self.gate.bearer(request):
                    form = await self.form(request)
                    submitted = (form.get("csrf") or [""])[0]
                    if not self.gate.csrf_ok(request.state.session, submitted):
                        return self.error(
                            request,
                            access,
                            403,
                            "Form expired",
                            "csrf: the form's token does not match this browser session;"
                            " reload the page and submit again.",
                        )
                with acting_as(f"ui:{access.principal}"):  # the audit log names the caller
                    return await handler(request, access)
            except Forbidden as exc:
                return self.error(
                    request,
                    access,
                    403,
                    "Not allowed",
                    f"scope: {exc}; this token has scope {access.scope}.",
                )
            except ParamError as exc:
                return self.error(request, access, 400, "Bad request", exc.message, field=exc.field)
            except (EpisodeNotFoundError, PatternNotFoundError) as exc:
                return self.error(request, access, 404, "Not found", str(exc))
            except InvalidInputError as exc:
                return self.error(request, access, 400, "Bad request", str(exc), field=exc.field)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first.get("loc", ())) or None
                return self.error(
                    request, access, 400, "Bad request", str(first.get("msg")), field=field
                )
            except MemoryCoreError as exc:
                return self.error(request, access, 500, "The memory refused", str(exc))

        return endpoint

    # -- pages ---------------------------------------------------------------------------
    async def home(self, request: Request, access: Access) -> Response:
        check_known(request.query_params, ("cursor", "deleted"))
        cursor = request.query_params.get("cursor") or None
        page = await self.run(self.memory.list_episodes, None, RECENT, cursor, tenant=access.tenant)
        return self.page(
            request,
            "home.html",
            access,
            episodes=page.items,
            next_cursor=page.next_cursor,
            deleted=request.query_params.get("deleted"),
            params={},
            nav="home",
        )

    async def search(self, request: Request, access: Access) -> Response:
        params = SearchParams.parse(request.query_params, self.memory.limits.max_query_chars)
        hits: list[Any] = []
        patterns: list[Any] = []
        listed: list[Any] = []
        if params.q:
            result = await self.run(
                self.memory.query,
                params.q,
                None,
                params.limit,
                tenant=access.tenant,
                **params.filter_kwargs(),
            )
            hits, patterns = result.episodes, result.patterns
        elif params.raw:
            page = await self.run(
                self.memory.list_episodes,
                params.filters(),
                params.limit,
                None,
                tenant=access.tenant,
            )
            listed = page.items
        return self.page(
            request,
            "search.html",
            access,
            params=params.raw,
            hits=hits,
            patterns=patterns,
            listed=listed,
            searched=bool(params.q),
            min_relevance=self.memory.config.min_relevance,
            nav="search",
        )

    async def episode(self, request: Request, access: Access) -> Response:
        check_known(request.query_params, ("tags_saved",))
        eid = _uuid(request.path_params["episode_id"], "episode id")

        def load() -> dict[str, Any]:
            episode = self.memory.get_episode(eid, tenant=access.tenant)
            links = self.memory.list_relationships(eid, tenant=access.tenant)
            others = {r.target_id if r.source_id == eid else r.source_id for r in links}
            summaries = {
                s.id: s
                for s in self.memory.storage.get_summaries(self.tenant_name(access), list(others))
            }
            patterns = self.memory.storage.get_patterns(
                self.tenant_name(access), list(episode.pattern_ids)
            )
            return {"episode": episode, "links": links, "linked": summaries, "fed": patterns}

        data = await self.run(load)
        return self.page(
            request,
            "episode.html",
            access,
            nav="",
            saved="tags_saved" in request.query_params,
            **data,
        )

    async def confirm_delete(self, request: Request, access: Access) -> Response:
        check_known(request.query_params, ())
        eid = _uuid(request.path_params["episode_id"], "episode id")
        summary = await self.run(self.memory.get_summary, eid, tenant=access.tenant)
        return self.page(request, "delete.html", access, episode=summary, nav="")

    async def delete(self, request: Request, access: Access) -> Response:
        eid = _uuid(request.path_params["episode_id"], "episode id")
        # As ``memory episode delete``: physical (rows, indexes, vectors, patterns, cache,
        # freed pages and write-ahead log; see memory_core._deletion).
        existed = await self.run(self.memory.delete_episode, eid, tenant=access.tenant)
        if not existed:
            raise EpisodeNotFoundError(eid)
        return RedirectResponse("/?" + urlencode({"deleted": str(eid)}), 303)

    async def tags(self, request: Request, access: Access) -> Response:
        eid = _uuid(request.path_params["episode_id"], "episode id")
        form = await self.form(request)
        raw = (form.get("tags") or [""])[0]
        tags = [t.strip() for t in raw.split(",") if t.strip()]
        await self.run(self.memory.set_tags, eid, tags, tenant=access.tenant)
        return RedirectResponse(f"/episodes/{eid}?tags_saved=1#tags", 303)

    async def patterns(self, request: Request, access: Access) -> Response:
        params = PatternParams.parse(request.query_params)
        filters = {k: v for k, v in (("kind", params.kind), ("domain", params.domain)) if v}
        analyses = await self.run(
            self.memory.analyze_patterns, filters, params.limit, tenant=access.tenant
        )
        return self.page(
            request,
            "patterns.html",
            access,
            analyses=analyses,
            nav="patterns",
            params={k: str(v) for k, v in filters.items()},
        )

    async def wrong(self, request: Request, access: Access) -> Response:
        pid = _uuid(request.path_params["pattern_id"], "pattern id")
        form = await self.form(request)
        eid = _uuid((form.get("episode") or [""])[0], "episode")
        await self.run(self.memory.record_pattern_outcome, pid, eid, False, tenant=access.tenant)
        return RedirectResponse(f"/patterns#p-{pid}", 303)

    async def learning_page(self, request: Request, access: Access) -> Response:
        check_known(request.query_params, ("days",))
        days = int_param(request.query_params, "days", 30, 1, 365)
        data = await self.run(self.learning.get, self.memory, self.tenant_name(access), days)
        # Not ``memory.metrics()``: its storage counts cost ~50 ms at 10K and are not shown.
        operations = self.memory.metrics_registry.snapshot()
        cache: dict[str, float] = {}
        if access.allows("admin"):  # process-wide numbers: the operator's, not a tenant's
            stats = await self.run(self.memory.cache.stats)
            cache = {
                "hits": float(stats.hits),
                "misses": float(stats.misses),
                "hit_rate": stats.hit_rate,
                "entries": float(stats.entries),
            }
            self.cache_samples.sample(cache["hits"], cache["misses"])
        labels, rates = self.cache_samples.rates()
        return self.page(
            request,
            "learning.html",
            access,
            data=data,
            days=days,
            cache=cache,
            cache_labels=labels,
            cache_rates=rates,
            operations=operations,
            events=self.memory.metrics_registry.tallies(),
            min_relevance=self.memory.config.min_relevance,
            nav="learning",
        )

    async def health(self, request: Request, access: Access) -> Response:
        check_known(request.query_params, ())
        report = await self.run(self.memory.health)
        stats = await self.run(self.memory.storage.stats, self.tenant_name(access))
        # Process-wide details (database location, cache entries) only for the operator.
        operator = access is LOCAL or access.allows("admin")
        return self.page(
            request,
            "health.html",
            access,
            report=report,
            stats=stats,
            operator=operator,
            nav="health",
        )

    # -- login ---------------------------------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        next_page = _safe_next(request.query_params.get("next"))
        return self.templates.render(
            "login.html",
            error=None,
            next=next_page,
            csrf=self.gate.csrf_token(request.state.session),
            path="/login",
        )

    async def login(self, request: Request) -> Response:
        form = await self.form(request)
        next_page = _safe_next((form.get("next") or ["/"])[0])
        csrf = (form.get("csrf") or [""])[0]
        token = (form.get("token") or [""])[0].strip()
        session = (
            await self.run(self.gate.login, token)
            if self.gate.csrf_ok(request.state.session, csrf)
            else None
        )
        if session is None:
            return self.templates.render(
                "login.html",
                401,
                error="token: not a valid, active token",
                next=next_page,
                csrf=self.gate.csrf_token(request.state.session),
                path="/login",
            )
        response = RedirectResponse(next_page, 303)
        request.state.new_session = session
        return response

    async def logout(self, request: Request) -> Response:
        form = await self.form(request)
        if self.gate.csrf_ok(request.state.session, (form.get("csrf") or [""])[0]):
            self.gate.logout(request.cookies.get(SESSION_COOKIE, ""))
            request.state.new_session = self.gate.new_session_id()
        return RedirectResponse("/login", 303)


def _uuid(value: str, name: str) -> UUID:
    try:
        return UUID(value.strip())
    except ValueError:
        raise ParamError(name, f"not a UUID: {value[:64]!r}") from None


def _safe_next(value: str | None) -> str:
    """Only a local path: a login link must not redirect to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
