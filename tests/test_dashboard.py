"""The dashboard: one self-contained HTML file that escapes what candidates wrote, and renders in a real browser."""

import base64
import json
import os
import re
import select
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from flcampaign.files import write_json
from flcampaign.layout import Records
from flcampaign.records import ledger_row
from flcampaign.reporting.dashboard import ledger_table, write_dashboard

HOSTILE = "<script>alert(1)</script>"
DIFF = "--- a/client.py\n+++ b/client.py\n@@ -1 +1 @@\n-loss = a\n+loss = a + mu  # </script><!--<script>\n"
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def small_ledger() -> list[dict]:
    row = ledger_row
    return [
        row(order=1, candidate="0000-baseline", parent="baseline", status="baseline", score=0.70, best_so_far=0.70,
            runtime_seconds=16.2, cpu_seconds=22.0, family="fedavg", description="Baseline"),
        row(order=2, candidate="0001-prox", parent="baseline", status="keep", score=0.74, best_so_far=0.74,
            runtime_seconds=17.0, cpu_seconds=23.5, family="fedprox", description=HOSTILE, peak_memory_mb=812.5),
        row(order=3, candidate="lit-0001", status="literature", best_so_far=0.74, description="Adaptive servers"),
        row(order=4, candidate="0002-adam", parent="0001-prox", status="discard", score=0.72, best_so_far=0.74,
            runtime_seconds=18.1, family="fedadam", description="FedAdam", literature_event="lit-0001"),
        row(order=5, candidate="0003-boom", parent="baseline", status="crash", best_so_far=0.74,
            runtime_seconds=3.0, family="lr", description="Divides by zero", failure_reason="exit code 2"),
    ]  # fmt: skip


def campaign_state(rows: list[dict]) -> dict:
    counts = {status: sum(r["status"] == status for r in rows) for status in {r["status"].value for r in rows}}
    return {
        "counts": counts | {"total": len(rows)},
        "decision": "continue",
        "reason": "no stop condition met",
        "next_action": "develop_candidate",
        "best": {"candidate": "0001-prox", "score": 0.74},
        "baseline": {"candidate": "0000-baseline", "score": 0.70},
    }


def winners_evidence() -> dict:
    """One winner with every piece and a best control with the pieces a short campaign lacks (None or absent)."""
    interval = {"mean": 0.03, "ci_low": 0.01, "ci_high": 0.05, "confirmed": True, "n": 3}
    return {
        "baseline_search_score": 0.70,
        "repeat_seeds": [42, 43, 44],
        "controls": [
            {"id": "_ctl-001", "arm": "random", "args": {"lr": 0.1}, "search_score": 0.69},
            {"id": "_tpe-001", "arm": "tpe", "args": {"lr": 0.01}, "search_score": None},
        ],  # fmt: skip
        "cost": {"race": 4, "repeats": 6},
        "entries": [
            {
                "candidate": "0001-prox",
                "role": "winner",
                "attribution": "repeat-supported FL-recipe gain",
                "reasons": ["top-1 by race mean"],
                "search_score": 0.74,
                "search_gain": 0.04,
                "search_seeds": 3,
                "race_gain": interval,
                "repeat": interval,
                "heldout_vs_baseline": interval,
                "versus_control": interval | {"confirmed": False},
                "diff_per_seed": {"42": 0.02, "43": 0.03, "44": 0.04, "47": 0.05},
                "heldout_diff_per_seed": {"42": 0.01, "43": 0.03, "44": 0.05},
                "heldout": {"42": 0.71, "43": 0.73, "44": 0.75},
            },  # fmt: skip
            {
                "candidate": "_ctl-best",
                "role": "best control",
                "attribution": "",
                "search_score": None,
                "search_gain": None,
                "race_gain": None,
                "repeat": None,
                "heldout_vs_baseline": {"mean": -0.01},
                "diff_per_seed": {},
            },  # fmt: skip
        ],
    }


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    """A small campaign folder: the ledger's rows need only the validation records of two candidates."""
    records = Records(tmp_path / "results")
    for cid, title, args in (("0001-prox", HOSTILE, {"mu": 0.01, "lr": 0.001}), ("0002-adam", "FedAdam", {})):
        records.candidate(cid).mkdir(parents=True)
        meta = {"title": title, "hypothesis": f"{HOSTILE} helps", "parent": "baseline", "family": "fedprox"}
        write_json(records.validation(cid), {"meta": meta | {"cost": {"tokens": 1200}}, "effective_args": args})
        records.effective_diff(cid).write_text(DIFF)
    return tmp_path


def build(campaign: Path, heart_task, evidence: dict | None, live: bool) -> str:
    rows = small_ledger()
    out = campaign / "reports" / "dashboard.html"
    out.parent.mkdir(exist_ok=True)
    write_dashboard(out, heart_task, rows, campaign_state(rows), evidence, campaign / "results", live)
    return out.read_text(encoding="utf-8")


class Tags(HTMLParser):
    """Every start tag with its attributes (script and style content is data to the parser, not tags)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def ledger_body(page: str) -> str:
    return page.split('<table id="ledger">', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_dashboard_is_one_self_contained_file(campaign, heart_task):
    page = build(campaign, heart_task, winners_evidence(), live=False)
    tags = Tags(page).tags
    assert not [attrs for tag, attrs in tags if tag == "script" and "src" in attrs]
    assert not [attrs for _, attrs in tags if re.match(r"https?://", attrs.get("src") or attrs.get("href") or "")]
    assert not [tag for tag, attrs in tags if tag == "link"]
    assert [tag for tag, _ in tags].count("script") == page.count("</script>") == 3  # Plotly, data, page
    assert ledger_body(page).count("<tr") == len(small_ledger())
    assert '<th data-column="peak_memory_mb">' in page  # a cost column some row fills
    for text in ("repeat-supported FL-recipe gain", "n/a", "+0.0300 [+0.0100, +0.0500]", "not confirmed"):
        assert text in page
    assert "1200" in page and "self-reported" in page


def test_candidate_text_is_escaped_everywhere(campaign, heart_task):
    page = build(campaign, heart_task, winners_evidence(), live=False)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ledger_body(page)
    data = page.split('<script type="application/json" id="dashboard-data">', 1)[1].split("</script>", 1)[0]
    assert "</" not in data and "<!--" not in data
    assert r"<\/script>" in data
    figures = json.loads(data)["figures"]
    hover = [c[0] for trace in figures["progress"]["data"] for c in trace.get("customdata", [])]
    assert any("&lt;script&gt;" in label for label in hover)  # escaped for Plotly's label markup
    assert any(DIFF in c for trace in figures["progress"]["data"] for c in trace.get("customdata", []))


def test_dashboard_without_evidence_or_cost(campaign, heart_task):
    page = build(campaign, heart_task, None, live=False)
    assert "n/a: no winners' evidence yet" in page
    assert "n/a: no run has been recorded yet" in page
    assert ledger_body(page).count("<tr") == len(small_ledger())


def test_measured_cost_is_counted_from_the_run_records(campaign, heart_task):
    records = Records(campaign / "results")
    for phase, cid, wall in (("search", "0001-prox", 70.0), ("race", "0001-prox", 50.25)):
        write_json(
            records.run_record(phase, cid, 0),
            {"state": "ok", "runtime_seconds": wall, "compute": {"cpu_seconds": 9.5}, "device": "cuda:0"},
        )
    page = build(campaign, heart_task, winners_evidence(), live=False)
    for text in ("wall_seconds", "120.2", "50.2", "race (search seeds)", "cuda:0", "tokens", "2,400.0"):
        assert text in page
    assert "n/a: no run has been recorded yet" not in page


def test_cost_columns_show_what_varies():
    rows = [r | {"peak_memory_mb": 900.0, "device": "cpu", "slot": "cpu0"} for r in small_ledger()]
    assert "peak_memory_mb" in ledger_table(rows)["columns"]
    assert not {"device", "slot", "gpu_seconds"} & set(ledger_table(rows)["columns"])  # one device: named once
    rows[1] |= {"device": "cuda:0", "slot": "gpu0", "gpu_seconds": 4.5}
    assert {"device", "slot", "gpu_seconds"} <= set(ledger_table(rows)["columns"])


def test_live_pages_reload_final_pages_do_not(campaign, heart_task):
    live = build(campaign, heart_task, None, live=True)
    assert "location.reload()" in live and "live — reloading every 15 s" in live and 'id="pause"' in live
    final = build(campaign, heart_task, None, live=False)
    assert "location.reload" not in final and "live — " not in final and 'id="pause"' not in final
    assert '<span class="badge final">final</span>' in final


class DevTools:
    """Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): the browser reads
    commands on its fd 3 and writes replies and events on its fd 4, each a JSON message ended by a NUL byte."""

    def __init__(self, profile: Path, log: Path) -> None:
        commands_in, self.commands = os.pipe()
        self.replies, replies_out = os.pipe()
        with open(log, "wb") as stderr:
            self.process = subprocess.Popen(
                ["bash", "-c", f'exec "$0" "$@" 3<&{commands_in} 4>&{replies_out}', CHROMIUM or "chromium",
                 *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
                pass_fds=(commands_in, replies_out), stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        os.close(commands_in)
        os.close(replies_out)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _receive(self, timeout: float = 30.0) -> dict:
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.replies], [], [], timeout)
            if not ready:
                raise TimeoutError("chromium sent nothing for 30 s")
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its DevTools pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        os.write(self.commands, json.dumps(message | ({"sessionId": session} if session else {})).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def errors(self) -> list[str]:
        """What the page reported as errors: uncaught exceptions, console errors, error log entries."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(json.dumps(params["args"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, EOFError, TimeoutError, RuntimeError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self.commands)
            os.close(self.replies)


def evaluate(browser: DevTools, session: str, expression: str) -> Any:
    result = browser.call("Runtime.evaluate", session, expression=expression, returnByValue=True, awaitPromise=True)
    assert "exceptionDetails" not in result, result["exceptionDetails"]
    return result["result"].get("value")


@needs_chromium
def test_dashboard_renders_in_headless_chromium(campaign, heart_task, tmp_path):
    build(campaign, heart_task, winners_evidence(), live=True)
    page = campaign / "reports" / "dashboard.html"
    browser = DevTools(tmp_path / "profile", tmp_path / "chromium.log")
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            browser.call(f"{domain}.enable", session)
        browser.call("Emulation.setDeviceMetricsOverride", session, width=1400, height=1000, deviceScaleFactor=1,
                     mobile=False)  # fmt: skip
        browser.call("Page.navigate", session, url=page.as_uri())
        deadline = time.monotonic() + 30
        while evaluate(browser, session, "document.body && document.body.dataset.ready") != "1":
            assert time.monotonic() < deadline, "the page never set data-ready"
            time.sleep(0.2)

        assert evaluate(browser, session, "document.querySelectorAll('#ledger tbody tr').length") == 5
        assert evaluate(browser, session, "window.flcampaignDashboard.rows") == 5
        hovers = evaluate(browser, session, "[0, 1, 2, 3].map((i) => window.flcampaignDashboard.hover(i))")
        candidates = ["0000-baseline", "0001-prox", "0002-adam", "0003-boom"]  # campaign order
        for hover, cid in zip(hovers, candidates, strict=True):
            assert hover.startswith(cid), hover
        assert HOSTILE in hovers[1]  # shown as text in the label, not run
        assert "exit code 2" in hovers[3]
        evaluate(browser, session, "window.flcampaignDashboard.select(1)")
        assert evaluate(browser, session, "document.querySelector('#panel pre').textContent") == DIFF
        assert "mu" in evaluate(browser, session, "document.querySelector('#panel .args').textContent")
        crash_rows = """(() => { const s = document.getElementById('filter-status'); s.value = 'crash';
            s.dispatchEvent(new Event('change'));
            return Array.from(document.querySelectorAll('#ledger tbody tr')).filter((r) => !r.hidden).length; })()"""
        assert evaluate(browser, session, crash_rows) == 1
        paused = "document.getElementById('pause').click(); localStorage.getItem('flcampaign-dashboard-paused')"
        assert evaluate(browser, session, paused) == "1"
        assert evaluate(browser, session, "document.getElementById('live-badge').textContent") == "live — paused"
        assert browser.errors() == []

        height = browser.call("Page.getLayoutMetrics", session)["cssContentSize"]["height"]
        browser.call("Emulation.setDeviceMetricsOverride", session, width=1400, height=int(height),
                     deviceScaleFactor=1, mobile=False)  # fmt: skip
        shot = browser.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        png = tmp_path / "dashboard.png"
        png.write_bytes(base64.b64decode(shot["data"]))
        assert png.read_bytes().startswith(b"\x89PNG")
        shutil.copyfile(png, campaign / "reports" / "dashboard.png")
    finally:
        browser.close()


@needs_chromium
def test_dumped_dom_of_the_final_page_is_ready(campaign, heart_task, tmp_path):
    """Chromium's plain command line, as a person would check the file: the page renders offline from file://."""
    build(campaign, heart_task, winners_evidence(), live=False)
    page = campaign / "reports" / "dashboard.html"
    dumped = subprocess.run(
        [CHROMIUM or "chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert 'data-ready="1"' in dumped.stdout, dumped.stderr[-2000:]
