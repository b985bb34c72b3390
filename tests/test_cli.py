"""The CLI driven with click's CliRunner against temporary databases and a loopback feed server."""

from __future__ import annotations

from click.testing import CliRunner

from listener import store
from listener.app.cli import cli
from tests.helpers import FEEDS


def invoke(settings_path, *args):
    return CliRunner().invoke(cli, ["--config", str(settings_path), "--now", "2026-11-23T06:00:00Z", *args])


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("init-db", "collect", "classify", "digest", "alerts", "run", "demo", "sources"):
        assert name in result.output
        sub = CliRunner().invoke(cli, [name, "--help"])
        assert sub.exit_code == 0 and "Usage:" in sub.output


def test_init_db_collect_classify_digest_sources(server, write_settings, tmp_path):
    server.add_file("/lobsters.xml", FEEDS / "lobsters.xml", "application/rss+xml")
    server.add("/down", "no", status=500)
    path = write_settings({"lobsters": server.url("/lobsters.xml"), "down": server.url("/down")},
                          products='[[products]]\nname = "Ruby"\nours = true\n[[products]]\nname = "Rails"\n')
    r = invoke(path, "init-db")
    assert r.exit_code == 0 and "Database ready" in r.output and "0001_initial" in r.output

    r = invoke(path, "collect")
    assert r.exit_code == 1  # one source failed; the other was still collected
    assert "error: source down: HTTP 500 Internal Server Error" in r.stderr
    assert "lobsters: 25 entries, 25 new" in r.stdout
    assert "25 new, 0 updated, 0 unchanged, 1 failed" in r.stdout

    r = invoke(path, "collect", "lobsters")
    assert r.exit_code == 0 and "lobsters: not modified" in r.stdout

    r = invoke(path, "collect", "nope")
    assert r.exit_code == 2 and "no source named 'nope'" in r.stderr

    r = invoke(path, "classify")
    assert r.exit_code == 0 and "Classified 25 post(s)" in r.output
    r = invoke(path, "classify")
    assert "Classified 0 post(s)" in r.output
    r = invoke(path, "classify", "--all")
    assert "Classified 25 post(s)" in r.output

    r = invoke(path, "digest", "--date", "2021-01-13")
    assert r.exit_code == 0, r.output
    html_path, md_path, json_path, pdf_path = r.output.strip().splitlines()
    assert html_path.endswith("out/digest-2021-01-13.html") and md_path.endswith(".md")
    assert json_path.endswith("out/digest-2021-01-13.json") and pdf_path.endswith("out/digest-2021-01-13.pdf")
    md = open(md_path).read()
    assert "| Ruby | ours | 2 |" in md  # 2021-01-13 has two Lobsters Ruby posts (UTC)

    r = invoke(path, "digest", "--date", "13/01/2021")
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output

    r = invoke(path, "sources")
    assert r.exit_code == 0
    assert "lobsters" in r.output and "304" in r.output and "25" in r.output
    assert "HTTP 500" in r.output

    db = store.open_db(tmp_path / "test.db")
    kinds = [row["kind"] for row in store.recent_runs(db, 10)]
    assert kinds.count("collect") == 2 and kinds.count("classify") == 3 and kinds.count("digest") == 1


def test_run_once_and_quiet(server, write_settings, tmp_path):
    server.add_file("/x.xml", FEEDS / "xkcd.xml", "application/rss+xml")
    path = write_settings({"xkcd": server.url("/x.xml")})
    r = CliRunner().invoke(
        cli, ["--config", str(path), "--quiet", "--now", "2016-09-13T06:00:00Z", "run", "--once"])
    assert r.exit_code == 0, r.output
    # quiet: only the digest paths are printed
    lines = r.output.strip().splitlines()
    assert [ln.rsplit("/", 1)[-1] for ln in lines] == ["digest-2016-09-12.html", "digest-2016-09-12.md",
                                                        "digest-2016-09-12.json", "digest-2016-09-12.pdf"]
    db = store.open_db(tmp_path / "test.db")
    assert db.execute("SELECT count(*) FROM posts WHERE classified_at IS NOT NULL").fetchone()[0] == 4
    r = CliRunner().invoke(cli, ["--config", str(path), "run"])
    assert r.exit_code == 2 and "--once" in r.output


def test_a_mistyped_store_path_is_one_line_not_an_empty_report(write_settings, tmp_path):
    """Reading commands do not create a database: a missing file is a wrong store.path, said in one
    line (exit 2) with nothing created; collecting commands still create it."""
    from click.testing import CliRunner

    from listener.app.cli import cli

    path = write_settings()
    missing = tmp_path / "typo" / "listner.db"
    path.write_text(path.read_text().replace('path = "test.db"', f"path = {str(missing)!r}"))
    for args in (["search", "firefox"], ["status"], ["digest", "--date", "2026-11-22", "--no-send"],
                 ["serve"], ["explain", "1"], ["label", "1", "--sentiment", "positive"], ["classify"],
                 ["collect"], ["sources"], ["saved", "add", "x", "firefox"], ["alerts", "--no-send"]):
        result = CliRunner().invoke(cli, ["--config", str(path), *args])
        assert result.exit_code == 2, (args, result.output)
        assert f"store.path: no database at {missing}" in result.output and "listener init-db" in result.output
        assert "Traceback" not in result.output, args
        assert not missing.exists() and not missing.parent.exists(), args
    result = CliRunner().invoke(cli, ["--config", str(path), "init-db"])
    assert result.exit_code == 0 and missing.exists(), result.output
    assert CliRunner().invoke(cli, ["--config", str(path), "status"]).exit_code == 0
