"""The console in a real browser (Debian's Chromium, driven by Playwright) against a real
``perfapi serve --demo``: sign-in, every view, keyboard use, live updates, errors, sign-out.

Each view is photographed at 1280x800 here and at 390x844 in the phone test, into
.perfapi/screenshots/.
"""

import asyncio
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta

from playwright.async_api import Browser, Page, Route, expect

from tests.auth.jwt_support import claims
from tests.cli.processes import run_cli
from tests.console.api import (
    ROOT_OBJECTIVE,
    call,
    checked_in_key_result,
    kpi_keyed,
    new_key,
    objective_titled,
    read,
    shown_percent,
)
from tests.console.browsing import (
    PHONE,
    Console,
    Watched,
    open_route,
    settled,
    sign_in,
    watched_page,
)

TOKEN_KEY = "perfapi.console.token"


async def _storage(page: Page) -> dict[str, object]:
    found: dict[str, object] = await page.evaluate(
        "() => ({session: {...sessionStorage}, local: {...localStorage}, cookie: document.cookie})"
    )
    return found


async def _mark_document(page: Page) -> None:
    """Mark this document: a reload would lose the mark."""
    await page.evaluate("() => { window.consoleTestMark = 'same document'; }")


async def _same_document(page: Page) -> bool:
    mark: object = await page.evaluate("() => window.consoleTestMark")
    return mark == "same document"


async def test_sign_in_refuses_a_bad_key_with_its_detail_and_keeps_a_good_one_in_the_tab(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    await page.goto(console.url)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await tab.shoot("sign-in")
    await page.get_by_label("API key or JWT").fill("pfk_000000000000_" + "x" * 32)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("The API key is not valid.")
    assert (await _storage(page))["session"] == {}

    await sign_in(tab, console)
    await expect(page.get_by_role("navigation", name="Strategy tree")).to_be_visible()
    assert console.token not in page.url
    assert await page.context.cookies() == []
    storage = await _storage(page)
    assert storage["session"] == {TOKEN_KEY: console.token}
    assert storage["local"] == {}
    assert storage["cookie"] == ""

    # The key lives as long as the tab: a reload stays signed in.
    await page.reload()
    await expect(page.get_by_role("navigation", name="Strategy tree")).to_be_visible()


async def test_the_tree_by_keyboard_and_looking_back_with_as_of(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    await sign_in(tab, console)
    tree = page.get_by_role("navigation", name="Strategy tree")
    root = await objective_titled(console, ROOT_OBJECTIVE)
    await expect(tree.get_by_role("link", name=ROOT_OBJECTIVE, exact=True)).to_be_visible()
    bar = tree.get_by_role("progressbar", name=f"Progress of {ROOT_OBJECTIVE}", exact=True)
    await expect(bar).to_be_visible()
    await expect(tree.get_by_text(f"{root['team']} · {root['owner']}")).to_be_visible()
    await expect(tree.get_by_text("✓ Achieved").first).to_be_visible()
    await settled(page)
    await tab.shoot("tree")

    # From the top of a freshly loaded page: the skip link, then straight into the tree.
    await page.reload()
    await expect(tree.get_by_role("link", name=ROOT_OBJECTIVE, exact=True)).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1, name="Strategy")).to_be_focused()
    await page.keyboard.press("Tab")
    first = tree.get_by_role("link").first
    await expect(first).to_be_focused()
    title = await first.text_content()
    assert title
    await page.keyboard.press("Enter")
    heading = page.get_by_role("heading", level=1, name=title, exact=True)
    await expect(heading).to_be_visible()
    await expect(heading).to_be_focused()  # where a screen reader starts reading
    await expect(page.get_by_role("heading", name="Key results")).to_be_visible()

    # Back to the tree, as of a day in the past: the numbers are the API's for that day.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Strategy").click()
    as_of = (datetime.now(UTC).date() - timedelta(days=45)).isoformat()
    await page.get_by_label("As of").fill(as_of)
    await expect(page).to_have_url(re.compile(rf"as_of={as_of}"))
    await expect(page.get_by_text(f"as of the end of {as_of} (UTC)")).to_be_visible()
    back_then = await objective_titled(console, ROOT_OBJECTIVE, as_of=as_of)
    node = tree.locator(".tree-node").filter(
        has=page.get_by_role("link", name=ROOT_OBJECTIVE, exact=True)
    )
    await expect(node.locator(".progress-value")).to_have_text(shown_percent(back_then["progress"]))
    # Opening an objective keeps looking at that day.
    await tree.get_by_role("link", name=ROOT_OBJECTIVE, exact=True).click()
    await expect(page).to_have_url(re.compile(rf"#/objectives/{root['id']}\?as_of={as_of}"))
    await expect(page.get_by_text(f"as of the end of {as_of} (UTC)")).to_be_visible()
    await page.get_by_role("button", name="Now").click()
    await expect(page).not_to_have_url(re.compile("as_of="))
    await expect(page.get_by_text("as of now")).to_be_visible()


async def test_a_kpi_chart_with_its_settings_and_points_arriving_live(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    await sign_in(tab, console)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="KPIs").click()
    kpis = page.get_by_role("table")
    await expect(kpis.get_by_role("link", name="New ARR")).to_be_visible()
    await expect(kpis.get_by_text("No target")).to_be_visible()  # sales.win_rate has none
    await settled(page)
    await tab.shoot("kpis")

    await kpis.get_by_role("link", name="New ARR").click()
    await expect(page.get_by_role("heading", level=1, name="New ARR")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile(r"^New ARR per day from "))
    await expect(chart).to_be_visible()
    await expect(chart.locator("canvas").first).to_be_visible()
    # The demo's big deal, days ago, is an anomaly; the quarter's target sets the pace.
    await expect(chart).to_have_accessible_name(
        re.compile(r"with the target pace, a forecast band and [1-9]\d* anomal")
    )
    figure = page.locator("figure.chart")
    for series in ("Target pace", "Forecast", "Forecast low", "Forecast high", "Anomaly"):
        await expect(figure.get_by_text(series, exact=True)).to_be_visible()
    await expect(page.get_by_role("heading", name="Anomalies")).to_be_visible()
    await settled(page)
    await tab.shoot("kpi")

    # Settings go to the API and into the fragment; the focus stays on the control.
    interval = page.get_by_label("Interval")
    await interval.focus()
    async with page.expect_request(lambda r: "/series?" in r.url and "interval=week" in r.url):
        await interval.select_option("week")
    await expect(page.get_by_role("img", name=re.compile(r"^New ARR per week "))).to_be_visible()
    await expect(interval).to_be_focused()
    async with page.expect_request(lambda r: "/series?" in r.url and "tz=Europe%2FBerlin" in r.url):
        await page.get_by_label("Time zone").select_option("Europe/Berlin")
    async with page.expect_request(lambda r: "/series?" in r.url and "dim.region=emea" in r.url):
        await page.get_by_label("region").select_option("emea")
    await expect(page).to_have_url(
        re.compile(r"interval=week.*tz=Europe%2FBerlin.*dim.region=emea")
    )
    await expect(page.get_by_label("region")).to_have_value("emea")

    # Points posted through the API move the attainment on screen, without a reload.
    facts = page.locator(".facts div")
    actual = facts.filter(has=page.get_by_text("Actual", exact=True)).locator("dd")
    await settled(page)
    before = await actual.text_content()
    await _mark_document(page)
    new_arr = await kpi_keyed(console, "sales.new_arr")
    posted = await call(
        console,
        "POST",
        "/v1/points",
        json={
            "points": [
                {
                    "kpi": new_arr["key"],
                    "ts": datetime.now(UTC).isoformat(),
                    "value": 250_000,
                    "dimensions": {"region": "emea"},
                }
            ]
        },
    )
    assert posted.status_code == 200, posted.text
    await expect(actual).not_to_have_text(before or "")
    assert await _same_document(page)


async def test_a_check_in_posted_through_the_api_shows_without_a_reload(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    objective, key_result = await checked_in_key_result(console)
    await sign_in(tab, console)
    await open_route(page, f"#/objectives/{objective['id']}")
    check_ins = page.get_by_role("list", name=f"Check-ins of {key_result['title']}")
    await expect(page.get_by_role("heading", level=3, name=key_result["title"])).to_be_visible()
    await expect(page.get_by_role("heading", name="Outlook")).to_be_visible()
    await settled(page)
    await tab.shoot("objective")
    await _mark_document(page)

    note = f"Checked in by the live-update test {uuid.uuid4().hex[:6]}"
    posted = await call(
        console,
        "POST",
        f"/v1/key-results/{key_result['id']}/check-ins",
        json={"value": 4242.5, "note": note},
    )
    assert posted.status_code == 201, posted.text
    await expect(check_ins.get_by_role("listitem").first).to_contain_text(note)
    await expect(check_ins.get_by_role("listitem").first).to_contain_text("4,242.5")
    assert await _same_document(page)


async def test_the_check_in_form_records_and_shows_what_the_api_refuses(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    objective, key_result = await checked_in_key_result(console)
    read_only = await new_key(console, "default", "read")
    refused = await call(
        console,
        "POST",
        f"/v1/key-results/{key_result['id']}/check-ins",
        token=read_only,
        json={"value": 1},
    )
    assert refused.status_code == 403

    await sign_in(tab, console, read_only)
    await open_route(page, f"#/objectives/{objective['id']}")
    form = page.get_by_role("form", name=f"Record a check-in for {key_result['title']}")
    await form.get_by_label("Value").fill("7")
    await form.get_by_role("button", name="Record check-in").click()
    await expect(form.get_by_role("status")).to_have_text(refused.json()["detail"])

    await page.get_by_role("button", name="Sign out").click()
    await sign_in(tab, console)
    await open_route(page, f"#/objectives/{objective['id']}")
    note = f"Recorded in the form {uuid.uuid4().hex[:6]}"
    await form.get_by_label("Value").fill("13")
    await form.get_by_label("Note").fill(note)
    await form.get_by_role("button", name="Record check-in").click()
    await expect(form.get_by_role("status")).to_have_text("Check-in recorded.")
    check_ins = page.get_by_role("list", name=f"Check-ins of {key_result['title']}")
    await expect(check_ins.get_by_role("listitem").first).to_contain_text(note)
    listed = await read(console, f"/v1/key-results/{key_result['id']}/check-ins", limit=500)
    assert note in [item["note"] for item in listed["items"]]


async def test_goal_achievement_alignment_and_the_insights_feed_by_team(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    await sign_in(tab, console)
    nav = page.get_by_role("navigation", name="Main")

    await nav.get_by_role("link", name="Reports").click()
    achievement = await read(console, "/v1/reports/goal-achievement")
    alignment = await read(console, "/v1/reports/alignment")
    await expect(page.locator(".big")).to_have_text(shown_percent(achievement["rate"]))
    await expect(page.get_by_text(f"{shown_percent(alignment['coverage'])} (")).to_be_visible()
    for orphan in alignment["orphan_kpis"]:
        await expect(page.get_by_role("link", name=orphan["name"])).to_be_visible()
    await settled(page)
    await tab.shoot("reports")

    await nav.get_by_role("link", name="Insights").click()
    feed = await read(console, "/v1/insights", limit=50)
    cards = page.get_by_role("list", name="Insights, most severe first").get_by_role("listitem")
    await expect(cards.first).to_contain_text(feed["items"][0]["message"])
    await settled(page)
    await tab.shoot("insights")

    team = next(item["team"] for item in feed["items"] if item["team"])
    for_team = await read(console, "/v1/insights", limit=50, team=team)
    await page.get_by_label("Team").select_option(team)
    await expect(page).to_have_url(re.compile(rf"team={re.escape(team)}"))
    await expect(cards).to_have_count(len(for_team["items"]))
    await expect(cards.first).to_contain_text(for_team["items"][0]["message"])


async def test_api_errors_show_their_detail_never_a_blank_page(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    await sign_in(tab, console)
    missing = uuid.uuid4()
    answer = await call(console, "GET", f"/v1/kpis/{missing}")
    assert answer.status_code == 404
    await open_route(page, f"#/kpis/{missing}")
    await expect(page.get_by_role("alert")).to_have_text(answer.json()["detail"])

    # Another org's KPI is as unknown as one that never existed.
    other_token = await new_key_for_new_org(console)
    other_kpi = await call(
        console,
        "POST",
        "/v1/kpis",
        token=other_token,
        json={"key": "other.secret", "name": "Another org's KPI"},
    )
    assert other_kpi.status_code == 201, other_kpi.text
    await open_route(page, f"#/kpis/{other_kpi.json()['id']}")
    await expect(page.get_by_role("alert")).to_have_text(answer.json()["detail"])
    await expect(page.get_by_text("Another org's KPI")).to_have_count(0)

    # A range with too many buckets: the API's own words.
    new_arr = await kpi_keyed(console, "sales.new_arr")
    to = (date.today() + timedelta(days=1)).isoformat()
    too_many = await call(
        console,
        "GET",
        f"/v1/kpis/{new_arr['id']}/series",
        params={"interval": "hour", "from": "2000-01-01", "to": to},
    )
    assert too_many.status_code == 422
    await open_route(page, f"#/kpis/{new_arr['id']}?interval=hour&from=2000-01-01&to={to}")
    await expect(page.get_by_role("alert")).to_have_text(too_many.json()["detail"])
    await expect(page.get_by_label("Interval")).to_have_value("hour")  # still usable

    await open_route(page, "#/nowhere")
    await expect(page.get_by_role("alert")).to_contain_text("The console has no page at /nowhere")


async def new_key_for_new_org(console: Console) -> str:
    name = f"other-{uuid.uuid4().hex[:6]}"
    code, _, err = await run_cli("orgs", "create", name, env=console.env)
    assert code == 0, err
    return await new_key(console, name, "read", "write")


async def test_sign_out_forgets_the_key(tab: Watched, console: Console) -> None:
    page = tab.page
    await sign_in(tab, console)
    await expect(page.get_by_role("navigation", name="Strategy tree")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_text("You are signed out.")).to_be_visible()
    await expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert (await _storage(page))["session"] == {}
    await open_route(page, "#/kpis")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("table")).to_have_count(0)


async def test_a_jwt_of_the_identity_provider_signs_in_as_a_key_does(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    wrong_audience = console.signing_key.sign(claims(org="default", aud="someone-else"))
    refused = await call(console, "GET", "/v1/kpis", token=wrong_audience)
    assert refused.status_code == 401
    await page.goto(console.url)
    await page.get_by_label("API key or JWT").fill(wrong_audience)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(refused.json()["detail"])

    token = console.signing_key.sign(claims(org="default", scope="openid read"))
    await sign_in(tab, console, token)
    await expect(page.get_by_role("navigation", name="Strategy tree")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("Live")  # the stream takes it too
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Insights").click()
    await expect(page.get_by_role("list", name="Insights, most severe first")).to_be_visible()


async def test_a_key_revoked_while_signed_in_signs_out_with_the_reason(
    tab: Watched, console: Console
) -> None:
    page = tab.page
    name = f"revoked in the console test {uuid.uuid4().hex[:6]}"
    token = await new_key(console, "default", "read", name=name)
    await sign_in(tab, console, token)
    await expect(page.get_by_role("navigation", name="Strategy tree")).to_be_visible()
    keys = await read(console, "/v1/api-keys", limit=500)
    key_id = next(key["id"] for key in keys["items"] if key["name"] == name)
    revoked = await call(console, "POST", f"/v1/api-keys/{key_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    refused = await call(console, "GET", "/v1/kpis", token=token)
    assert refused.status_code == 401

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="KPIs").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_text(f"Signed out: {refused.json()['detail']}")).to_be_visible()
    assert (await _storage(page))["session"] == {}


async def test_every_view_reads_at_phone_width(browser: Browser, console: Console) -> None:
    context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    try:
        tab = await watched_page(context)
        page = tab.page
        await page.goto(console.url)
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await tab.shoot("sign-in")
        await sign_in(tab, console)
        root = await objective_titled(console, ROOT_OBJECTIVE)
        new_arr = await kpi_keyed(console, "sales.new_arr")
        views = {
            "tree": ("#/", page.get_by_role("navigation", name="Strategy tree")),
            "objective": (
                f"#/objectives/{root['id']}",
                page.get_by_role("heading", name="Key results"),
            ),
            "kpis": ("#/kpis", page.get_by_role("table")),
            "kpi": (f"#/kpis/{new_arr['id']}", page.locator("figure.chart canvas").first),
            "reports": ("#/reports", page.get_by_role("heading", name="Alignment")),
            "insights": (
                "#/insights",
                page.get_by_role("list", name="Insights, most severe first"),
            ),
        }
        for name, (route, shown) in views.items():
            await open_route(page, route)
            await expect(shown).to_be_visible()
            await settled(page)
            # Nothing wider than the screen: no sideways scrolling of the page.
            width = await page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (name, width)
            await tab.shoot(name)
        assert tab.errors == []
    finally:
        await context.close()


async def test_a_dropped_stream_resumes_after_the_last_event_it_saw(
    tab: Watched, console: Console
) -> None:
    """The first stream (played by the test) carries one real event and ends; the console
    reconnects with Last-Event-ID, and what committed in between reaches the page."""
    page = tab.page
    objective, key_result = await checked_in_key_result(console)
    events = await read(console, "/v1/events", limit=500)
    while events["next_cursor"]:
        events = await read(console, "/v1/events", limit=500, cursor=events["next_cursor"])
    last = events["items"][-1]
    note = f"Committed while the stream was down {uuid.uuid4().hex[:6]}"
    resumed_with: list[str | None] = []
    shown = asyncio.Event()

    async def stream(route: Route) -> None:
        if not resumed_with and not route.request.headers.get("last-event-id"):
            body = f"id: {last['id']}\nevent: {last['type']}\ndata: {json.dumps(last)}\n\n"
            await route.fulfill(status=200, content_type="text/event-stream", body=body)
            return
        if not resumed_with:
            # Only once the page shows the objective: then only the stream can bring this.
            await shown.wait()
            posted = await call(
                console,
                "POST",
                f"/v1/key-results/{key_result['id']}/check-ins",
                json={"value": 77, "note": note},
            )
            assert posted.status_code == 201, posted.text
        resumed_with.append(route.request.headers.get("last-event-id"))
        await route.continue_()

    await page.route("**/v1/events/stream*", stream)
    await sign_in(tab, console)
    await open_route(page, f"#/objectives/{objective['id']}")
    await expect(page.get_by_role("heading", level=3, name=key_result["title"])).to_be_visible()
    await settled(page)
    check_ins = page.get_by_role("list", name=f"Check-ins of {key_result['title']}")
    await expect(check_ins).not_to_contain_text(note)
    shown.set()
    await expect(check_ins.get_by_role("listitem").first).to_contain_text(note)
    await expect(page.locator("#live")).to_have_text("Live")
    assert resumed_with[0] == last["id"]


async def test_the_event_stream_parser_takes_lines_split_anywhere(
    tab: Watched, console: Console
) -> None:
    """The hand-written SSE parser (EventSource cannot send the key): CRLF, LF and CR line
    ends, comments, multi-line data, a field without a colon, and chunks that cut lines,
    even between a CR and its LF."""
    stream = (
        ': ping\r\nid: evt_1\r\nevent: check_in.created\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        "id: evt_2\ndata: two\n\nretry: 5\rdata: three\r\revent\ndata\n\n"
    )
    page = tab.page
    await page.goto(console.url)
    parsed = await page.evaluate(
        """async (stream) => {
          const { SseParser } = await import("./console/js/sse.js");
          const parse = (chunks) => {
            const seen = [];
            const parser = new SseParser((event) => seen.push(event));
            for (const chunk of chunks) parser.push(chunk);
            return seen;
          };
          return [parse([stream]), parse([...stream]), parse(stream.split(/(?<=\\r)/))];
        }""",
        stream,
    )
    expected = [
        {"type": "check_in.created", "data": '{"a":\n1}', "id": "evt_1"},
        {"type": "message", "data": "two", "id": "evt_2"},
        {"type": "message", "data": "three", "id": "evt_2"},
        {"type": "message", "data": "", "id": "evt_2"},
    ]
    assert parsed == [expected, expected, expected]
