"""``memory ui`` as a real subprocess over a real libSQL file and LMDB cache, driven by a
real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, installed by
``.ci/run``) through Selenium.

Screenshots of every page go to ``$MEMORY_UI_SCREENSHOTS`` (default
``test-artifacts/ui/`` at the repository root, git-ignored) so a reviewer can look at them.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from memory_core import (
    ExecutionStep,
    MemoryConfig,
    SelfLearningMemory,
    StepResult,
    StepStatus,
    TaskContext,
    TaskOutcome,
)
from memory_core import OutcomeType as Outcome
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[4]
SCREENSHOTS = Path(os.environ.get("MEMORY_UI_SCREENSHOTS", REPO / "test-artifacts" / "ui"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
STARTUP_LIMIT_S = 120.0
"""A server that neither listens nor exits by then is a failure, not a hang."""
_SERVING = re.compile(r"memory ui: serving (https?://\S+/)")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err or ""


def start_ui(*args: str, env: dict[str, str] | None = None, before: tuple[str, ...] = ()) -> Server:
    """``memory BEFORE ui --port 0 ARGS``; returns once it printed the URL it listens on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "memory_cli", *before, "ui", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:  # until the server announces itself or exits
        ready, _, _ = select.select([process.stderr], [], [], deadline - time.monotonic())
        line = process.stderr.readline() if ready else ""
        if not line and (not ready or process.poll() is not None):
            break
        lines.append(line)
        match = _SERVING.search(line)
        if match:
            return Server(url=match.group(1).rstrip("/"), process=process)
    process.kill()
    process.wait(timeout=20)
    raise AssertionError("memory ui did not start:\n" + "".join(lines))


def open_memory(tenant: str | None = None) -> SelfLearningMemory:
    overrides: dict[str, Any] = {"tenant": tenant} if tenant else {}
    return SelfLearningMemory.from_config(MemoryConfig.load(None, **overrides))


def record(
    memory: SelfLearningMemory,
    task: str,
    *,
    outcome: Outcome = Outcome.SUCCESS,
    domain: str = "web",
    tags: tuple[str, ...] = (),
    steps: tuple[tuple[str, str, str, bool], ...] = (),
    tenant: str | None = None,
) -> str:
    """A completed episode; each step is (tool, action, output or message, succeeded)."""
    eid = memory.start_episode(task, TaskContext(domain=domain, tags=list(tags)), tenant=tenant)
    for number, (tool, action, text, ok) in enumerate(steps, start=1):
        result = (
            StepResult(status=StepStatus.SUCCESS, output=text)
            if ok
            else StepResult(status=StepStatus.ERROR, message=text)
        )
        step = ExecutionStep(step_number=number, tool=tool, action=action, result=result)
        memory.log_step(eid, step, tenant=tenant)
    memory.complete_episode(
        eid, TaskOutcome(type=outcome, verdict=f"{outcome.value}"), tenant=tenant
    )
    memory.flush()
    return str(eid)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        # A browser cannot come from PyPI here (no wheel ships Chromium): outside CI these
        # tests say what to install; in CI (.ci/run installs it) its absence is a failure.
        reason = (
            f"the browser tests need {', '.join(missing)}: "
            "apt-get install chromium chromium-driver (.ci/run does)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    # JavaScript off for the pages: everything must work without it (the driver's own
    # scripts, used for screenshots and layout checks, still run).
    options.add_experimental_option(
        "prefs", {"profile.managed_default_content_settings.javascript": 2}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, name: str, *, width: int = 1280) -> Path:
    """A full-page screenshot (the whole document height) at ``width`` CSS pixels."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(600, min(int(height) + 120, 6000)))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path


def _left_the_document(element: Any) -> bool:
    """Whether the page that held ``element`` was replaced. chromedriver reports it either
    as a stale reference or as a node that "does not belong to the document"."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def navigate(driver: webdriver.Chrome, action: Callable[[], object]) -> None:
    """Do ``action`` (a click or Enter that loads a page) and wait for the new page: a
    keypress returns before the browser has replaced the document."""
    old = driver.find_element(By.TAG_NAME, "html")
    try:
        action()
    except WebDriverException as exc:
        # chromedriver may report that the element it just activated left the document:
        # the page changed under it, which is what the action was for.
        if "does not belong to the document" not in str(exc):
            raise
    wait = WebDriverWait(driver, 60)
    wait.until(lambda _: _left_the_document(old))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "main")))
