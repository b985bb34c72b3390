"""Digests delivered to a real SMTP server (aiosmtpd) and to loopback Slack/webhook receivers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from listener import pipeline, store
from listener.app.cli import cli
from listener.config import load_settings
from reports.deliver import verify_signature
from tests.helpers import NOW
from tests.helpers.posts import ON_DAY, OUTSIDE, PRODUCTS, TRAILING
from tests.helpers.receivers import HookServer, SMTPServer


def setup_db(write_settings, channels: str, digest_channels: str):
    path = write_settings(products=PRODUCTS, extra=channels)
    text = path.read_text().replace('[digest]\noutput_dir = "out"\n',
                                    f'[digest]\noutput_dir = "out"\nchannels = {digest_channels}\n')
    path.write_text(text)
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, ON_DAY + TRAILING + OUTSIDE, now="2026-11-23T05:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    return path, db


def run_digest(path, *extra):
    return CliRunner().invoke(cli, ["--config", str(path), "--now", "2026-11-23T06:00:00Z", "digest",
                                    "--date", "2026-11-22", *extra])


def test_digest_email_has_text_html_and_inline_charts(write_settings):
    with SMTPServer() as smtp:
        path, db = setup_db(write_settings, f'''
[[channels]]
name = "mail"
type = "email"
to = ["team@example.org", "boss@example.org"]
from = "listener@example.org"
host = "127.0.0.1"
port = {smtp.port}

[schedule]
timezone = "Europe/Berlin"

[serve]
base_url = "https://listener.example.org/"
''', '["mail"]')
        r = run_digest(path)
        assert r.exit_code == 0, r.output
        assert "sent to mail (1 attempt)" in r.output
        assert len(smtp.messages) == 1
        msg = smtp.messages[0]
    assert msg["Subject"] == "listener: Daily digest for 2026-11-22: Acme 4 mentions (+300%), net +25"
    assert smtp.inbox.envelopes[0] == ("listener@example.org", ["team@example.org", "boss@example.org"])
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "| Acme | ours | 4 |" in text
    html_part = msg.get_body(preferencelist=("html",))
    html = html_part.get_content()
    assert "<td>66.7%</td>" in html and "data:image" not in html
    # email clients drop most stylesheets: the page keeps within 700 px by inline styles, charts included
    assert '<div class="page" style="max-width:700px;' in html
    assert html.count('width="676" style="display:block;width:100%;max-width:676px;height:auto"') == 3
    # times in schedule.timezone, both parts; links to the original post and to its page in listener
    assert "Generated 23 Nov 2026, 07:00 CET by listener" in html and "22 Nov 2026, 09:00 CET" in html
    assert "Generated 23 Nov 2026, 07:00 CET by listener" in text
    assert 'href="https://example.org/d1"' in html and "[in listener](https://listener.example.org/posts/" in text
    d1 = db.execute("SELECT id FROM posts WHERE guid = 'd1'").fetchone()[0]
    assert f'href="https://listener.example.org/posts/{d1}"' in html
    cids = {p["Content-ID"].strip("<>"): p for p in msg.walk() if p.get_content_type() == "image/png"}
    assert len(cids) == 3  # share of voice + one volume chart per product
    for cid, part in cids.items():
        assert f'src="cid:{cid}"' in html
        assert part.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (path.parent / "out" / "digest-2026-11-22.html").exists()
    row = store.deliveries(db, 1)[0]
    assert (row["kind"], row["channel"], row["status"], row["attempts"]) == ("digest", "mail", "sent", 1)


def test_slack_and_signed_webhook_with_retries(write_settings, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_SECRET", "s3cret")
    with HookServer(fail_first=2) as hook:
        path, db = setup_db(write_settings, f'''
[[channels]]
name = "slack"
type = "slack"
url = "{hook.url('/slack')}"
backoff = 0.05

[[channels]]
name = "hook"
type = "webhook"
url = "{hook.url('/hook')}"
secret_env = "TEST_HOOK_SECRET"
backoff = 0.05
''', '["slack", "hook"]')
        r = run_digest(path)
        assert r.exit_code == 0, r.output
    slack = [x for x in hook.received if x.path == "/slack"]
    hooks = [x for x in hook.received if x.path == "/hook"]
    assert len(slack) == 3 and len(hooks) == 1  # slack got the two 503s, then succeeded
    body = json.loads(slack[-1].body)
    assert "Daily digest for 2026-11-22" in body["text"] and body["blocks"][0]["type"] == "header"
    h = hooks[0]
    assert verify_signature("s3cret", h.headers["X-Listener-Timestamp"], h.body, h.headers["X-Listener-Signature"])
    assert not verify_signature("wrong", h.headers["X-Listener-Timestamp"], h.body, h.headers["X-Listener-Signature"])
    payload = json.loads(h.body)
    assert payload["event"] == "digest" and payload["digest"]["schema"] == "listener.digest/1"
    assert payload["digest"]["products"][0]["mentions"] == 4
    rows = {d["channel"]: d for d in store.deliveries(db)}
    assert (rows["slack"]["status"], rows["slack"]["attempts"]) == ("sent", 3)


def test_failed_delivery_keeps_the_digest_and_says_why(write_settings, monkeypatch):
    monkeypatch.delenv("MISSING_SECRET", raising=False)
    path, db = setup_db(write_settings, '''
[[channels]]
name = "deadmail"
type = "email"
to = ["x@example.org"]
host = "127.0.0.1"
port = 9
attempts = 2
backoff = 0.01
timeout = 2

[[channels]]
name = "nosecret"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret_env = "MISSING_SECRET"
''', '["deadmail", "nosecret"]')
    r = run_digest(path)
    assert r.exit_code == 1
    assert "error: delivery deadmail: channel deadmail: SMTP 127.0.0.1:9: ConnectionRefusedError" in r.stderr
    assert "(after 2 attempts)" in r.stderr
    assert "environment variable MISSING_SECRET (HMAC secret) is not set" in r.stderr
    assert (path.parent / "out" / "digest-2026-11-22.html").exists()
    assert (path.parent / "out" / "digest-2026-11-22.json").exists()
    assert {d["status"] for d in store.deliveries(db)} == {"failed"}
    assert {d["channel"]: d["attempts"] for d in store.deliveries(db)}["nosecret"] == 1  # no retry: it won't appear
    run = store.recent_runs(db, 1)[0]
    assert run["kind"] == "digest" and run["status"] == "partial"


@pytest.mark.slow
def test_demo_sends_to_local_smtp(demo_run):
    r = demo_run.result
    assert r.exit_code == 0, r.output
    assert f"Emailed to demo@localhost via {demo_run.smtp}" in r.output
    assert len(demo_run.messages) == 1
    assert demo_run.messages[0]["Subject"].startswith("listener: Digest for 2026-10-24 to 2026-11-22")
