"""kill -9 after acknowledged writes: after a restart every episode is found by meaning.

A real writer process on a real libSQL file completes episodes and reports each one as
acknowledged; its embedding worker is held (its provider's worker-thread calls wait
forever), so none of them has a vector when SIGKILL arrives. The next process, on the
default embedder, catches up on open; ``flush()`` waits for it (no sleeps), and then each
episode is retrieved by a paraphrase that shares none of its content words.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from memory_core import MemoryConfig, SelfLearningMemory
from memory_core._plugins import storage_factory_for_url

PAIRS = [
    ("fix the login page crash when the password field is empty",
     "sign-in screen fails if no passphrase was entered"),
    ("speed up the slow database query on the orders table",
     "make the sluggish SQL lookup for purchases faster"),
    ("add a dark mode to the settings screen",
     "let users switch the preferences UI to a night theme"),
    ("upgrade the docker base image to the newest python",
     "bump the container's interpreter version"),
    ("write unit tests for the invoice pdf generator",
     "automated checks for the code producing billing PDFs"),
    ("the continuous integration pipeline times out on the integration suite",
     "CI job exceeds its time limit running end-to-end checks"),
    ("translate the onboarding emails into spanish and german",
     "localise the welcome messages for new customers"),
    ("rotate the leaked api keys of the payment provider",
     "replace compromised credentials for the checkout gateway"),
]  # fmt: skip
DISTRACTORS = [
    f"{verb} the {thing} module"
    for verb in ("refactor", "document", "profile")
    for thing in ("scheduler", "logger", "cache", "router", "metrics", "uploader")
]

WRITER = r"""
import json, sys, threading
from memory_core import MemoryConfig, SelfLearningMemory, TaskOutcome
from memory_core._plugins import storage_factory_for_url
from memory_core.embeddings import StaticEmbeddingProvider

class Held(StaticEmbeddingProvider):
    def embed(self, texts):
        if threading.current_thread().name == "memory-embed":
            threading.Event().wait()  # the worker never writes before the kill
        return super().embed(texts)

url, texts = sys.argv[1], json.loads(sys.argv[2])
cfg = MemoryConfig(database_url=url, cache_backend="none")
_, factory = storage_factory_for_url(url, None)
memory = SelfLearningMemory(factory.from_url(url, cfg), None, Held(), cfg)
for text in texts:
    eid = memory.start_episode(text)
    memory.complete_episode(eid, TaskOutcome.success("done"))
    print(json.dumps([text, str(eid)]), flush=True)  # acknowledged
threading.Event().wait()
"""


def test_kill_after_acknowledged_writes_then_every_episode_found_by_paraphrase(
    tmp_path: Path,
) -> None:
    url = f"file:{tmp_path / 'memory.db'}"
    texts = [t for t, _ in PAIRS] + DISTRACTORS
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMORY_", "EMBEDDING"))}
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, json.dumps(texts)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert child.stdout is not None
    acked = dict(json.loads(child.stdout.readline()) for _ in texts)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL

    config = MemoryConfig(database_url=url, cache_backend="none")
    _, factory = storage_factory_for_url(url, None)
    raw = factory.from_url(url, config)
    try:  # the crash left every acknowledged episode without a vector
        left = raw.missing_embeddings("transformer:all-minilm-l6-v2+int8", 1000)
        assert {str(eid) for _, eid in left} == set(acked.values())
    finally:
        raw.close()

    # No relevance floor: what is tested is that the vectors came back, not where the
    # floor sits (the floor has its own tests and benchmark).
    with SelfLearningMemory.from_config(config.model_copy(update={"min_relevance": 0.0})) as memory:
        assert memory.embedder is not None
        assert memory.embedder.model_id == "transformer:all-minilm-l6-v2+int8"  # the default
        memory.flush()  # the catch-up started on open is done
        assert memory.storage.missing_embeddings(memory.embedder.model_id, 1000) == []
        for text, paraphrase in PAIRS:
            found = [str(r.episode.id) for r in memory.retrieve_relevant_context(paraphrase)]
            assert acked[text] in found, (paraphrase, found)
