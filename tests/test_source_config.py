"""Per-type source settings, `listener sources add`, and `listener sources` showing inactive sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from listener import store
from listener.app.cli import cli
from listener.config import ConfigError, load_settings


def load(tmp_path: Path, source: str):
    path = tmp_path / "s.toml"
    path.write_text(f"[[sources]]\nname = \"x\"\n{source}", encoding="utf-8")
    return load_settings(path)


@pytest.mark.parametrize("source,message", [
    ('type = "reddit"\nsubreddit = "firefox"\nhashtag = "x"\n', "sources[0].hashtag: unknown key"),
    ('type = "reddit"\n', "sources[0].subreddit: required key is missing"),
    ('type = "mastodon"\nhashtag = "firefox"\n', "sources[0].url: required key is missing"),
    ('type = "mastodon"\nurl = "https://m.social"\nhashtag = "two words"\n', "sources[0].hashtag: expected a hashtag"),
    ('type = "bluesky"\nquery = "x"\nhandle_env = "not a var"\n', "sources[0].handle_env: expected an environment variable name"),
    ('type = "feed"\nurl = "https://x/"\nmax_pages = 3\n', "sources[0].max_pages: unknown key"),
    ('type = "forum"\nurl = "https://f/"\npreset = "ipb9"\n', "sources[0].preset: unknown forum preset 'ipb9'"),
    ('type = "forum"\nurl = "https://f/"\nlanguage = "tlh"\n', "sources[0].language: unknown date language 'tlh'"),
    ('type = "forum"\nurl = "https://f/"\npreset = "smf2"\ntimezone = "Mars/Olympus"\n', "sources[0].timezone: unknown time zone"),
    ('type = "forum"\nurl = "https://f/"\npreset = "smf2"\n[sources.selectors]\nposts = "div"\n',
     "sources[0].selectors.posts: unknown selector"),
    ('type = "forum"\nurl = "https://f/"\npreset = "discourse"\n[sources.selectors]\npost = "div"\n',
     "sources[0].selectors: the discourse preset reads the JSON API and takes no selectors"),
    ('type = "forum"\nurl = "https://f/"\npreset = "phpbb3"\n[sources.selectors]\npost = ""\n',
     "sources[0].selectors.post: expected a CSS selector string"),
    ('type = "twitter"\nurl = "https://x/"\n', "sources[0].type: unknown source type 'twitter'"),
])
def test_bad_source_settings_name_the_key(tmp_path, source, message):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, source)
    assert message in str(err.value)


def test_source_defaults_and_options(tmp_path):
    s = load(tmp_path, 'type = "reddit"\nsubreddit = "r/firefox"\nmax_age = "2d"\n').sources[0]
    assert (s.url, s.options["subreddit"], s.options["client_id_env"], s.max_age, s.max_pages) == \
        ("https://www.reddit.com", "firefox", "REDDIT_CLIENT_ID", 172800, None)
    f = load(tmp_path, 'type = "forum"\nurl = "https://f.org/viewforum.php?f=2"\npreset = "phpbb3"\n'
                       '[sources.selectors]\nauthor = "a.username"\n').sources[0]
    assert f.options["selectors"]["author"] == "a.username" and f.options["selectors"]["post"] == "div.post"
    assert f.options["timezone"] == "UTC"


def test_sources_add_appends_validates_and_refuses_bad_entries(tmp_path):
    path = tmp_path / "settings.toml"
    original = '# my settings\n[store]\npath = "x.db"\n'
    path.write_text(original, encoding="utf-8")
    run = CliRunner().invoke
    r = run(cli, ["--config", str(path), "sources", "add", "ff-reddit", "--type", "reddit",
                  "--set", "subreddit=firefox", "--set", "max_pages=2"])
    assert r.exit_code == 0, r.output
    s = load_settings(path).source("ff-reddit")
    assert (s.type, s.options["subreddit"], s.max_pages) == ("reddit", "firefox", 2)
    assert path.read_text().startswith(original)  # comments and the rest kept
    before = path.read_text()
    r = run(cli, ["--config", str(path), "sources", "add", "m", "--type", "mastodon", "--set", "hashtag=x"])
    assert r.exit_code == 2 and "sources[1].url: required key is missing" in r.output
    r = run(cli, ["--config", str(path), "sources", "add", "ff-reddit", "--type", "hackernews", "--set", "query=x"])
    assert r.exit_code == 2 and "duplicate name 'ff-reddit'" in r.output
    assert path.read_text() == before  # nothing written on a refusal


def test_sources_lists_an_inactive_source(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[store]\npath = "x.db"\n[[sources]]\nname = "gone"\ntype = "mastodon"\n'
                    'url = "https://m.example"\nhashtag = "x"\n', encoding="utf-8")
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    store.sync_sources(db, settings.sources)
    store.record_fetch(db, "gone", now="2026-11-23T06:00:00Z", status=410, error="HTTP 410 Gone")
    r = CliRunner().invoke(cli, ["--config", str(path), "sources"])
    assert r.exit_code == 0 and "INACTIVE" in r.output and "HTTP 410 Gone" in r.output
