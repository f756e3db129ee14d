"""The dashboard in a real headless Chromium: search, read, delete, give feedback; every
page is screenshotted (desktop, and the episode page at a phone width)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from memory_core import OutcomeType
from memory_core.testing.factories import complete, make_episode
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .conftest import Server, navigate, open_memory, record, screenshot, start_ui

MARKER = "quokkaflux"  # unique text: must be gone from every file after delete


@pytest.fixture
def seeded_ui(env: object) -> Iterator[tuple[Server, dict[str, str]]]:
    memory = open_memory()
    ids = {
        "target": record(
            memory,
            f"Add a {MARKER} health endpoint to the billing API",
            tags=("api", "billing"),
            steps=(
                ("edit", "add route /health", "route added", True),
                ("pytest", "run the tests", f"1 failed: {MARKER} handler missing", False),
                ("edit", "register the handler", "done", True),
                ("pytest", "run the tests again", "12 passed", True),
            ),
        ),
        "other": record(
            memory,
            "Fix the flaky login test in the web client",
            outcome=OutcomeType.FAILURE,
            steps=(("pytest", "run login test", "timeout", False),),
        ),
        "third": record(
            memory,
            "Document the billing API endpoints",
            outcome=OutcomeType.PARTIAL_SUCCESS,
            steps=(("edit", "write docs", "half done", True),),
        ),
    }
    memory.add_relationship(ids["third"], ids["target"], "depends_on", reason="documents it")
    # A week of history (imported with its own timestamps): day d ago has d successes
    # and one failure, so the Learning page has something to draw and to count.
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for d in range(1, 7):
        for i in range(d + 1):
            started = noon - timedelta(days=d, minutes=i)  # same UTC day whatever the hour
            episode = make_episode(
                f"history task {d}-{i} on the reports service", started_at=started
            )
            outcome = OutcomeType.FAILURE if i == d else OutcomeType.SUCCESS
            memory.import_episode(complete(episode, outcome=outcome))
    memory.close()
    server = start_ui()
    try:
        yield server, ids
    finally:
        server.stop()


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_search_open_and_delete_an_episode(
    browser: webdriver.Chrome, seeded_ui: tuple[Server, dict[str, str]], env: Any
) -> None:
    server, ids = seeded_ui
    browser.get(server.url + "/")
    assert f"{MARKER} health endpoint" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "home")
    first_page = browser.find_element(By.TAG_NAME, "tbody").text
    navigate(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Older episodes").click)
    older = browser.find_element(By.TAG_NAME, "tbody").text
    assert "history task 6-6 " in older and "history task 6-6 " not in first_page  # 30 > 25
    browser.get(server.url + "/")

    # Search with the keyboard only: type into the search box and press Enter.
    box = browser.find_element(By.ID, "q")
    navigate(browser, lambda: box.send_keys(f"{MARKER} health endpoint", Keys.ENTER))
    hits = browser.find_elements(By.CSS_SELECTOR, "article.hit h3 a")
    assert hits and MARKER in hits[0].text
    why = browser.find_element(By.CSS_SELECTOR, "article.hit dl.why").text
    assert "Relevance" in why and f"words in the task: {MARKER}, health, endpoint" in why
    assert f"pytest run the tests — matches {MARKER}" in why  # found in the step's message
    assert "register the handler —" not in why  # a step without the query's words
    meter = browser.find_element(By.CSS_SELECTOR, "article.hit dl.why meter")
    assert 0.35 <= float(meter.get_attribute("value") or 0) <= 1.0  # calibrated, above the floor
    assert browser.find_element(By.CSS_SELECTOR, "article.hit p.reason-text").text
    screenshot(browser, "search")

    # A question from another domain entirely: the page says nothing relevant is known.
    browser.get(server.url + "/search?q=bake+a+chocolate+cake+for+grandma")
    assert browser.find_elements(By.CSS_SELECTOR, "article.hit") == []
    assert "No relevant past episode" in browser.find_element(By.TAG_NAME, "main").text
    browser.back()
    hits = browser.find_elements(By.CSS_SELECTOR, "article.hit h3 a")

    navigate(browser, hits[0].click)
    assert browser.current_url.endswith(f"/episodes/{ids['target']}")
    steps = browser.find_elements(By.CSS_SELECTOR, "ol.timeline li")
    assert [s.text.split("\n")[0].split(" ")[0] for s in steps] == [
        "edit",
        "pytest",
        "edit",
        "pytest",
    ]
    failed = browser.find_elements(By.CSS_SELECTOR, "ol.timeline li.failed")
    assert (
        len(failed) == 1 and "run the tests" in failed[0].text and "ERROR" in failed[0].text.upper()
    )
    assert "Total" in browser.find_element(By.ID, "reward-h").find_element(By.XPATH, "..").text
    related = browser.find_element(By.ID, "rel-h").find_element(By.XPATH, "..")
    link = related.find_element(By.LINK_TEXT, "Document the billing API endpoints")
    assert link.get_attribute("href").endswith(f"/episodes/{ids['third']}")
    assert "depends on" in related.text and "documents it" in related.text
    fed = browser.find_element(By.ID, "fed-h").find_element(By.XPATH, "..")
    fed_links = fed.find_elements(By.CSS_SELECTOR, "a[href^='/patterns#p-']")
    assert any("edit → pytest" in a.text for a in fed_links)
    screenshot(browser, "episode")
    screenshot(browser, "episode-phone", width=390)

    # Edit tags through the form.
    tags = browser.find_element(By.ID, "tags-input")
    tags.clear()
    navigate(browser, lambda: tags.send_keys("api, reviewed", Keys.ENTER))
    assert "Tags saved" in browser.find_element(By.ID, "tags").text
    assert [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#tags span.tag")] == [
        "api",
        "reviewed",
    ]

    navigate(browser, browser.find_element(By.LINK_TEXT, "Delete this episode…").click)
    screenshot(browser, "delete-confirm")
    navigate(browser, browser.find_element(By.ID, "confirm-delete").click)
    assert browser.current_url.split("?")[0] == server.url + "/"
    main = browser.find_element(By.TAG_NAME, "main").text
    assert f"Deleted episode {ids['target']}" in main and MARKER not in main

    browser.get(server.url + f"/episodes/{ids['target']}")
    assert "episode not found" in browser.find_element(By.TAG_NAME, "main").text
    browser.get(server.url + f"/search?q={MARKER}+health+endpoint")
    assert MARKER not in browser.find_element(By.TAG_NAME, "main").text

    err = server.stop()  # closes the store: everything it wrote is on disk now
    assert "Traceback" not in err
    root = Path(str(env.root))
    assert _files_containing(root / "data", MARKER.encode()) == []
    assert _files_containing(root / "cache", MARKER.encode()) == []


def test_patterns_show_effectiveness_after_feedback(
    browser: webdriver.Chrome, seeded_ui: tuple[Server, dict[str, str]]
) -> None:
    server, _ = seeded_ui
    browser.get(server.url + "/patterns")
    first = browser.find_element(By.CSS_SELECTOR, "article.pattern")
    pattern_id = first.get_attribute("id")
    assert "no feedback yet" in first.find_element(By.CSS_SELECTOR, "dd.effectiveness").text
    navigate(
        browser, first.find_element(By.XPATH, ".//button[normalize-space()='Mark as wrong']").click
    )
    assert browser.current_url.endswith(f"/patterns#{pattern_id}")
    marked = browser.find_element(By.ID, str(pattern_id))
    effectiveness = marked.find_element(By.CSS_SELECTOR, "dd.effectiveness").text
    assert "0/1 applications" in effectiveness and effectiveness.startswith("0%")
    screenshot(browser, "patterns")


def test_learning_and_health_pages(
    browser: webdriver.Chrome, seeded_ui: tuple[Server, dict[str, str]]
) -> None:
    server, _ = seeded_ui
    browser.get(server.url + "/learning")
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) >= 4
    labels = [c.get_attribute("aria-label") for c in charts]
    assert any(label and label.startswith("Episodes per day by outcome") for label in labels)
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    assert len(bars) >= 7 * 2, "a success and a failure bar for each day with episodes"
    browser.find_element(By.XPATH, "//summary[normalize-space()='Data']").click()
    rows = {
        r.find_elements(By.TAG_NAME, "td")[0].text: [
            c.text for c in r.find_elements(By.TAG_NAME, "td")[1:]
        ]
        for r in browser.find_elements(By.CSS_SELECTOR, "#per-day-h ~ details tbody tr")
    }
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    # success, partial success, failure, in progress, success rate
    assert rows[three_days_ago] == ["3", "0", "1", "0", "75%"]
    screenshot(browser, "learning")

    def floor_counts() -> tuple[int, int]:
        browser.get(server.url + "/learning")
        meters = browser.find_elements(By.CSS_SELECTOR, "dl.floor meter")
        if not meters:
            return 0, 0
        hit, miss = (int(float(m.get_attribute("value") or 0)) for m in meters)
        return hit, miss

    hit, miss = floor_counts()
    browser.get(server.url + "/search?q=knit+a+woollen+scarf+for+winter")
    browser.get(server.url + f"/search?q={MARKER}+health+endpoint")
    assert floor_counts() == (hit + 1, miss + 1)

    browser.get(server.url + "/health")
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "healthy" in text and "Schema version" in text and "Extraction queue depth" in text
    screenshot(browser, "health")


def test_bad_query_parameters_name_the_field(
    browser: webdriver.Chrome, seeded_ui: tuple[Server, dict[str, str]]
) -> None:
    server, _ = seeded_ui
    for query, field in (
        ("q=x&outcom=success", "outcom"),
        ("q=x&since=last+tuesday", "since"),
        ("q=x&outcome=great", "outcome"),
        ("q=x&limit=lots", "limit"),
    ):
        browser.get(server.url + "/search?" + query)
        alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]")
        assert alert.find_element(By.CSS_SELECTOR, ".field").text == field
        assert "Traceback" not in browser.page_source
    screenshot(browser, "error")
    browser.get(server.url + "/episodes/not-a-uuid")
    assert "episode id" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text


PAGES = ("/", "/search?q=billing+api", "/patterns", "/learning", "/health")


def test_pages_fit_a_phone_and_80_percent_zoom_without_scripts(
    browser: webdriver.Chrome, seeded_ui: tuple[Server, dict[str, str]]
) -> None:
    """No page scrolls sideways at a phone width (390 CSS px) or at 80% zoom of a 1280 px
    window (1600 CSS px); none carries a script."""
    server, ids = seeded_ui
    try:
        for width in (390, 1600):
            browser.set_window_size(width, 900)
            for path in (*PAGES, f"/episodes/{ids['other']}"):
                browser.get(server.url + path)
                overflow = browser.execute_script(
                    "return document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 0, (width, path, overflow)
                assert not browser.find_elements(By.TAG_NAME, "script"), path
        browser.set_window_size(390, 900)
        browser.get(server.url + "/learning")
        screenshot(browser, "learning-phone", width=390)
    finally:
        browser.set_window_size(1280, 900)


def test_keyboard_reaches_everything_in_order(
    browser: webdriver.Chrome, seeded_ui: tuple[Server, dict[str, str]]
) -> None:
    server, _ = seeded_ui
    browser.get(server.url + "/")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.text == "Skip to content"
    names = []
    for _ in range(6):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        names.append(browser.switch_to.active_element.text)
    assert names == ["memory", "Home", "Search", "Patterns", "Learning", "Health"]
    # From the nav, Tab reaches the search box; typing and Enter searches.
    for _ in range(10):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if browser.switch_to.active_element.get_attribute("id") == "q":
            break
    box = browser.switch_to.active_element
    assert box.get_attribute("id") == "q"
    navigate(browser, lambda: box.send_keys("billing", Keys.ENTER))
    assert browser.find_elements(By.CSS_SELECTOR, "article.hit")
