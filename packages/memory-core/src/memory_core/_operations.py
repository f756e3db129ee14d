"""``Operations``: what an operator asks of a running memory — health, metrics, reembed.

``health`` never raises (it is what a probe calls when something is wrong); ``reembed``
moves every completed episode to the configured embedding model.
"""

from __future__ import annotations

from collections.abc import Callable

from memory_core._backends import cache_name
from memory_core._context import MemoryContext
from memory_core._episodes import EpisodeLifecycle
from memory_core._errors import EmbeddingError
from memory_core._results import ComponentHealth, HealthReport, MetricsSnapshot
from memory_core._version import __version__
from memory_core.flags import effective_flags  # deploy: feature flags


class Operations:
    """Health, metrics and re-embedding over one memory's backends."""

    def __init__(self, ctx: MemoryContext, episodes: EpisodeLifecycle) -> None:
        self._ctx = ctx
        self._episodes = episodes

    def health(self) -> HealthReport:
        backends = self._ctx.backends
        warnings: list[str] = []
        try:
            s = backends.storage.health()
            storage = ComponentHealth(ok=bool(s.get("ok")), backend=backends.storage.name, detail=s)
        except Exception as exc:
            storage = ComponentHealth(ok=False, backend="?", detail={"error": str(exc)})
        try:
            cs = backends.cache.stats()
            cache = ComponentHealth(
                ok=True,
                backend=backends.cache.name,
                detail=cs.model_dump() | {"hit_rate": cs.hit_rate},
            )
        except Exception as exc:
            cache = ComponentHealth(
                ok=False, backend=cache_name(self._ctx.config), detail={"error": str(exc)}
            )
        emb = backends.embedder
        error = backends.embedder_error
        if emb is None:
            reason = error or (
                "no embedding model is installed (pip install 'selfmem-core[transformer]' "
                "or 'selfmem-core[local]')"
                if self._ctx.config.embedding_provider.strip().lower() == "auto"
                else "embeddings disabled by configuration"
            )
            embeddings = ComponentHealth(
                ok=error is None, backend="none", detail={"reason": reason}
            )
            mode = f"lexical-only ({reason})"
            if error:
                warnings.append(f"embeddings unavailable: {error}")
        else:
            embeddings = ComponentHealth(
                ok=True,
                backend=emb.name,
                detail={"model_id": emb.model_id, "dimension": emb.dimension},
            )
            mode = "hybrid (lexical + semantic)"
            if storage.ok:
                try:
                    others = [
                        m for m in backends.storage.embedding_models() if m.model_id != emb.model_id
                    ]
                except Exception:
                    others = []
                for m in others:
                    warnings.append(
                        f"{m.count} stored vectors come from {m.model_id}, not the configured "
                        f"{emb.model_id}; they are not used. Run `memory storage reembed`."
                    )
        return HealthReport(
            ok=storage.ok and cache.ok and embeddings.ok,
            version=__version__,
            storage=storage,
            cache=cache,
            embeddings=embeddings,
            retrieval_mode=mode,
            queue_depth=self._ctx.worker.queue_depth + self._ctx.embeddings.depth,
            warnings=warnings,
            feature_flags=effective_flags(self._ctx.config),  # deploy: flags in health_check
        )

    def metrics(self, tenant: str | None) -> MetricsSnapshot:
        c = self._ctx
        with c.lock:
            stats = c.backends.storage.stats(c.tenant(tenant))
        try:
            cs = c.backends.cache.stats()
            cache = {
                "hits": float(cs.hits), "misses": float(cs.misses), "hit_rate": cs.hit_rate,
                "entries": float(cs.entries), "size_bytes": float(cs.size_bytes),
                "evictions": float(cs.evictions),
            }  # fmt: skip
        except Exception:
            cache = {}
        return MetricsSnapshot(
            operations=c.metrics.snapshot(),
            events=c.metrics.tallies(),
            cache=cache,
            episodes=stats.episodes,
            completed_episodes=stats.completed_episodes,
            steps=stats.steps,
            patterns=stats.patterns,
            heuristics=stats.heuristics,
            queue_depth=c.worker.queue_depth + c.embeddings.depth,
            uptime_seconds=round(c.metrics.uptime, 3),
        )

    def reembed(self, tenant: str | None, progress: Callable[[int], None] | None) -> int:
        c = self._ctx
        emb = c.backends.embedder
        if emb is None:
            raise EmbeddingError("no embedding provider is configured; nothing to re-embed")
        done = 0
        t = c.tenant(tenant)
        worker = c.embeddings
        worker.flush()  # what was queued before is written with the same model
        failures = worker.failures
        for episode in self._episodes.export_episodes(t, 200):
            if episode.is_complete:
                if worker.background:
                    worker.submit(t, episode)  # batched by the worker; bounded queue
                else:
                    records = worker.vectors(episode)
                    with c.lock:
                        c.backends.storage.put_embeddings(t, records)
                done += 1
                if progress is not None:
                    progress(done)
        worker.flush()
        if worker.failures > failures:
            raise EmbeddingError(
                f"{worker.failures - failures} episodes could not be embedded with "
                f"{emb.model_id}; the vectors of other models are kept (see the log)"
            )
        with c.lock:
            for m in c.backends.storage.embedding_models():
                if m.model_id != emb.model_id:
                    c.backends.storage.delete_embeddings(m.model_id)
            c.backends.cache.invalidate_tenant(t)
        c.guard.audit("reembed", t, [], f"ok:{done}")  # security
        return done
