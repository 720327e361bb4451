"""The Grafana dashboards: the committed files are the generator's, each is a valid
Grafana dashboard bound to the provisioned data source, every panel's SQL (expanded as
Grafana expands it) returns the columns its panel needs on the demo's data, and
`driftwarden dashboards push` creates, then leaves alone, what a Grafana holds."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_grafana import FakeGrafana
from grafana_macros import BUILTINS, TimeRange, expand, expand_macros, variables_used
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.dashboards import files
from monitor.dashboards.catalog import DASHBOARDS
from monitor.db.engine import make_engine
from monitor.demo import runner
from monitor.detection.monitors_apply import apply_monitors
from monitor.detection.monitors_file import parse_monitors
from monitor.detection.runner import run_due

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "dashboards"
DASHBOARD_FILES = sorted(DASHBOARD_DIR.glob("*.json"))
PROVISIONED = yaml.safe_load(
    (DASHBOARD_DIR / "provisioning/datasources/driftwarden.yaml").read_text(encoding="utf-8")
)["datasources"][0]
TIME_SERIES_TYPES = {"timeseries", "status-history"}
NUMBER = (int, float, Decimal)

# What each dashboard's single-value variables are set to when its SQL runs (each must
# be among its variable query's values); multi-value variables get every value ("All").
SELECTIONS: dict[str, list[dict[str, str]]] = {
    "driftwarden-fleet": [{}],
    "driftwarden-model": [{"model": "fraud-detector", "version": "1", "segment": "(all)"}],
    "driftwarden-feature": [
        {"model": "fraud-detector", "version": "1", "feature": "amount"},
        {"model": "fraud-detector", "version": "1", "feature": "merchant_category"},
    ],
    "driftwarden-service": [{}],
}

# The demo checks data_drift only; this monitor adds the signals the model detail
# dashboard shows, applied and run the way `driftwarden monitors apply` / `detect` do.
HEALTH_MONITOR = """
  - name: fraud-detector-health
    model: fraud-detector
    reference: previous_window
    signals: [prediction_drift, performance, estimated_performance, data_quality, skew]
"""


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _panels(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


# --- the files -------------------------------------------------------------------------------


def test_committed_files_are_the_generators_output() -> None:
    assert {p.name for p in DASHBOARD_FILES} == set(files.rendered())
    assert files.stale(DASHBOARD_DIR) == [], "run `driftwarden dashboards generate`"


def test_generate_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    cli = CliRunner()
    assert cli.invoke(app, ["dashboards", "generate", "--out", str(tmp_path)]).exit_code == 0
    assert (
        cli.invoke(app, ["dashboards", "generate", "--check", "--out", str(tmp_path)]).exit_code
        == 0
    )
    (tmp_path / "fleet.json").write_text("{}", encoding="utf-8")
    result = cli.invoke(app, ["dashboards", "generate", "--check", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "fleet.json" in result.output


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_file_is_a_grafana_dashboard_on_the_provisioned_datasource(path: Path) -> None:
    d = _load(path)
    assert d["schemaVersion"] >= 39
    assert d["uid"]
    assert d["title"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"

    taken: set[tuple[int, int]] = set()
    for p in d["panels"]:
        g = p["gridPos"]
        assert min(g["x"], g["y"]) >= 0, p["title"]
        assert min(g["w"], g["h"]) >= 1, p["title"]
        assert g["x"] + g["w"] <= 24, f"{p['title']} is wider than the grid"
        cells = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & taken, f"{p['title']} overlaps another panel"
        taken |= cells

    source = {"type": PROVISIONED["type"], "uid": PROVISIONED["uid"]}
    variables = [v["name"] for v in d["templating"]["list"]]
    for i, v in enumerate(d["templating"]["list"]):
        assert v["datasource"] == source
        used = variables_used(v["query"]) - BUILTINS
        assert used <= set(variables[:i]), f"variable {v['name']} uses {used} before they exist"
    queries = [(a["name"], a["target"]) for a in d["annotations"]["list"]]
    for p in _panels(d):
        assert p["datasource"] == source, p["title"]
        assert p["targets"], p["title"]
        queries.extend((p["title"], t) for t in p["targets"])
    for title, t in queries:
        assert t["datasource"] == source, title
        assert t["rawQuery"] is True, title
        assert t["format"] in ("time_series", "table"), title
        used = variables_used(t["rawSql"]) - BUILTINS
        assert used <= set(variables), f"{title} uses undefined variables {used}"


# --- the macro expander agrees with Grafana's ----------------------------------------------------

RANGE = TimeRange(
    datetime(2026, 1, 2, 3, 0, tzinfo=UTC), datetime(2026, 1, 2, 9, 30, 0, 500000, tzinfo=UTC)
)


def test_macros_expand_as_grafanas_postgres_engine() -> None:
    assert expand_macros("WHERE $__timeFilter(ts)", RANGE) == (
        "WHERE ts BETWEEN '2026-01-02T03:00:00Z' AND '2026-01-02T09:30:00.5Z'"
    )
    assert expand("SELECT $__timeGroupAlias(ts, $__interval)", {}, RANGE) == (
        'SELECT floor(extract(epoch from ts)/300)*300 AS "time"'
    )
    assert expand("$__timeGroup(ts, '1h')", {}, RANGE) == "floor(extract(epoch from ts)/3600)*3600"
    assert expand("x IN (${m:sqlstring}) AND v = ${v}", {"m": ["a", "o'b"], "v": ["1"]}, RANGE) == (
        "x IN ('a','o''b') AND v = 1"
    )
    assert expand("$__interval_ms", {}, RANGE, timedelta(minutes=1)) == "60000"
    # Grafana's pattern ends a macro's arguments at the first ')': a function call inside
    # one leaves broken SQL, which is why the dashboards never do that.
    assert expand_macros("$__timeFilter(coalesce(a, b))", RANGE) == (
        "coalesce(a BETWEEN '2026-01-02T03:00:00Z' AND '2026-01-02T09:30:00.5Z')"
    )


# --- every query on the demo's data --------------------------------------------------------------


class QuietReporter:
    def step(self, text: str) -> None:
        pass

    def progress(self, task: str, done: int, total: int) -> None:
        pass


@pytest.fixture(scope="module")
def seeded(create_database: Callable[[], str], bootstrap: str) -> Iterator[Engine]:
    """The demo's data (its generator, ingest, detection and alerting), kept in a test
    database, plus the runs of a monitor with the signals the demo does not check."""
    url = create_database()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS", bootstrap)  # the session's broker
        runner.run_demo(QuietReporter(), hours=6, per_hour=1000, drift_from=3, database_url=url)
    engine = make_engine(load_settings(database_url=url))
    demo_file = resources.files("monitor.demo").joinpath(runner.MONITORS_FILE).read_text("utf-8")
    with Session(engine) as session, session.begin():
        apply_monitors(session, parse_monitors(demo_file + HEALTH_MONITOR, source="test"))
    runs = run_due(engine, now=datetime.now(UTC))
    assert {r.signal for r in runs} >= {"performance", "estimated_performance"}
    yield engine
    engine.dispose()


def _query(engine: Engine, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql)
        columns = [c.name for c in cur.description]
        rows = cur.fetchall()
        raw.rollback()
        return columns, rows
    finally:
        raw.close()


def _resolve(
    engine: Engine, variables: Sequence[Mapping[str, Any]], chosen: Mapping[str, str], tr: TimeRange
) -> dict[str, list[str]]:
    """Each variable's value as Grafana would set it: its query run with the variables
    before it; the chosen value (which must be offered), else all values (multi) or the
    first."""
    values: dict[str, list[str]] = {}
    for v in variables:
        _, rows = _query(engine, expand(v["query"], values, tr))
        offered = [str(r[0]) for r in rows]
        assert offered, f"variable {v['name']} offers no value"
        if v["name"] in chosen:
            assert chosen[v["name"]] in offered, (v["name"], offered)
            values[v["name"]] = [chosen[v["name"]]]
        else:
            values[v["name"]] = offered if v["multi"] else offered[:1]
    return values


def _cases() -> list[Any]:
    out = []
    for path in DASHBOARD_FILES:
        d = _load(path)
        for i, chosen in enumerate(SELECTIONS[d["uid"]]):
            names = [(a["name"], "annotation", a["target"]) for a in d["annotations"]["list"]]
            names += [(p["title"], p["type"], t) for p in _panels(d) for t in p["targets"]]
            for title, kind, target in names:
                out.append(pytest.param(d, chosen, kind, target, id=f"{path.stem}[{i}]:{title}"))
    return out


@pytest.mark.parametrize(("dashboard", "chosen", "kind", "target"), _cases())
def test_panel_query_returns_what_its_panel_needs(
    seeded: Engine,
    dashboard: dict[str, Any],
    chosen: dict[str, str],
    kind: str,
    target: dict[str, Any],
) -> None:
    now = datetime.now(UTC)
    tr = TimeRange(now - timedelta(hours=24), now)
    values = _resolve(seeded, dashboard["templating"]["list"], chosen, tr)
    columns, rows = _query(seeded, expand(target["rawSql"], values, tr))
    assert rows, "no rows on the demo's data"
    by_name = {c: [r[i] for r in rows] for i, c in enumerate(columns)}

    def numeric(col: str) -> bool:
        cells = [x for x in by_name[col] if x is not None]
        return bool(cells) and all(isinstance(x, NUMBER) and not isinstance(x, bool) for x in cells)

    if kind == "annotation":
        assert {"time", "text"} <= set(columns)
        assert all(t is not None for t in by_name["time"])
    elif kind in TIME_SERIES_TYPES:
        assert target["format"] == "time_series"
        assert columns[0] == "time"
        times = by_name["time"]
        assert all(isinstance(t, (datetime, *NUMBER)) for t in times)
        assert times == sorted(times), "a time series must be sorted by time"
        values_cols = [c for c in columns if c not in ("time", "metric")]
        assert values_cols, columns
        assert all(numeric(c) for c in values_cols), columns
    elif kind in ("stat", "bargauge"):
        assert any(numeric(c) for c in columns), columns
    elif kind == "barchart":
        assert all(isinstance(x, str) for x in by_name[columns[0]])
        assert all(numeric(c) for c in columns[1:]), columns
    else:
        assert kind == "table"
        assert columns


def test_feature_histogram_matches_the_sketches(seeded: Engine) -> None:
    """The SQL decoding of bucket sketches gives the counts Sketch.from_bytes does."""
    from sqlalchemy import select  # noqa: PLC0415

    from detectors.sketches import Sketch, layout_from_dict  # noqa: PLC0415
    from monitor.db.models import Baseline, BucketSketch  # noqa: PLC0415

    feature = next(d for d in DASHBOARDS if d.uid == "driftwarden-feature")
    sql = feature.rows[0].panels[0].targets[0].sql
    now = datetime.now(UTC)
    tr = TimeRange(now - timedelta(hours=24), now)
    values = {"model": ["fraud-detector"], "version": ["1"], "feature": ["amount"]}
    _, rows = _query(seeded, expand(sql, values, tr))
    with Session(seeded) as session:
        base = session.scalars(select(Baseline).where(Baseline.model_id == "fraud-detector")).one()
        layout = layout_from_dict(base.sketches["amount"]["layout"])
        total = None
        for s in session.scalars(
            select(BucketSketch).where(
                BucketSketch.model_id == "fraud-detector",
                BucketSketch.feature == "amount",
                BucketSketch.segment == "",
                BucketSketch.span_hours == 1,
                BucketSketch.bucket.between(tr.start, tr.end),
            )
        ):
            one = Sketch.from_bytes(s.sketch, layout)
            total = one if total is None else total + one
    assert total is not None
    expected = [int(c) / total.n for c in total.counts]
    assert [float(r[2]) for r in rows] == pytest.approx(expected)
    assert len(rows) == layout.size


# --- push --------------------------------------------------------------------------------------

TOKEN = "glsa_test_token_0123"
PASSWORD = "s3cret-pw"
DS_URL = f"postgresql://grafana:{PASSWORD}@db.internal:5433/driftwarden"


def _push(url: str, *extra: str, token: str = TOKEN) -> Any:
    args = [
        "dashboards",
        "push",
        "--grafana-url",
        url,
        "--token",
        token,
        "--datasource-url",
        DS_URL,
    ]
    return CliRunner().invoke(app, [*args, *extra], env={"COLUMNS": "200"})


def test_push_creates_folder_datasource_dashboards_then_writes_nothing() -> None:
    with FakeGrafana(TOKEN) as grafana:
        first = _push(grafana.url)
        assert first.exit_code == 0, first.output
        writes = grafana.state.writes()
        assert [(w.method, w.path) for w in writes] == [
            ("POST", "/api/folders"),
            ("POST", "/api/datasources"),
            *[("POST", "/api/dashboards/db")] * len(DASHBOARD_FILES),
        ]
        assert all(w.authorization == f"Bearer {TOKEN}" for w in grafana.state.requests)
        assert writes[0].body == {"uid": "driftwarden", "title": "Driftwarden"}
        ds = writes[1].body
        assert (ds["uid"], ds["type"]) == (PROVISIONED["uid"], PROVISIONED["type"])
        assert (ds["url"], ds["user"], ds["jsonData"]["database"]) == (
            "db.internal:5433",
            "grafana",
            "driftwarden",
        )
        assert ds["secureJsonData"] == {"password": PASSWORD}
        sent = {w.body["dashboard"]["uid"]: w.body for w in writes[2:]}
        for path in DASHBOARD_FILES:
            model = _load(path)
            body = sent[model["uid"]]
            assert body["overwrite"] is True
            assert body["folderUid"] == "driftwarden"
            assert body["dashboard"] == {k: v for k, v in model.items() if k != "version"}
        assert first.output.count("created") == 2 + len(DASHBOARD_FILES)
        assert PASSWORD not in first.output
        assert TOKEN not in first.output

        second = _push(grafana.url)
        assert second.exit_code == 0, second.output
        assert len(grafana.state.writes()) == len(writes), "a second push must write nothing"
        assert "0 written" in second.output
        assert second.output.count("unchanged") >= 2 + len(DASHBOARD_FILES)

        renamed = _push(grafana.url, "--folder", "Model monitoring")
        assert renamed.exit_code == 0, renamed.output
        assert [(w.method, w.path) for w in grafana.state.writes()[len(writes) :]] == [
            ("PUT", "/api/folders/driftwarden")
        ]


def test_push_with_a_wrong_token_names_grafana_not_the_token() -> None:
    with FakeGrafana(TOKEN) as grafana:
        result = _push(grafana.url, token="wrong-token-value")
        assert result.exit_code == 2
        assert "401" in result.output
        assert grafana.url in result.output
        assert "wrong-token-value" not in result.output
        assert grafana.state.writes() == []


def test_push_with_a_bad_or_unreachable_url_says_which() -> None:
    result = _push("localhost:3000")
    assert result.exit_code == 2
    assert "--grafana-url 'localhost:3000'" in result.output
    with FakeGrafana(TOKEN) as grafana:
        gone = grafana.url
    result = _push(gone)
    assert result.exit_code == 2
    assert f"cannot reach Grafana at --grafana-url {gone}" in result.output
    assert TOKEN not in result.output
