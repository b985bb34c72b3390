"""The ``listener`` command line. Each command calls one library function in ``listener.pipeline``."""

from __future__ import annotations

import getpass
import os
import sqlite3
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, TypeVar
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from listener import __version__, pipeline, store
from listener import search as search_mod
from listener.config import Settings, load_settings, settings_path
from listener.errors import SQLITE_INT_MAX, BadInput, NotFound, UserError
from listener.files import check_paths, check_writable
from listener.text import iso_utc, parse_day, parse_iso


# Numbers SQLite stores in 64 bits: a bigger option is refused in one line by click, not an overflow later.
COUNT = click.IntRange(0, SQLITE_INT_MAX)
POST_ID = click.IntRange(1, SQLITE_INT_MAX)
T = TypeVar("T")
MAX_KEEP_DAYS = 36_500  # a hundred years: further back than that is before any date Python can subtract to


@dataclass
class Ctx:
    config: str | None
    quiet: bool
    now: datetime
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    def db(self, *, create: bool = False):
        """The database, migrated, with every configured source registered. Only ``init-db`` and
        ``run`` make a new one (``create``): for the other commands a missing file is a mistyped
        ``store.path`` far more often than an empty store, and an empty report would hide it."""
        path = self.settings().db_path
        if not create and not Path(path).exists():
            where = self.settings().path or "the settings"
            raise NotFound(f"store.path: no database at {path} (check store.path in {where}, "
                           "or create it with `listener init-db`)", exit_code=2)
        db = store.open_db(check_writable(path, key="store.path"))
        store.sync_sources(db, self.settings().sources)
        return db

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message)

    def progress(self) -> Progress:
        console = Console(stderr=True)
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console,
                        disable=self.quiet or not console.is_terminal, transient=True)


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    t = parse_iso(value)
    if t is None:
        raise click.BadParameter(f"expected an ISO time such as 2026-11-23T06:00:00Z, got {value!r}")
    return t


class _Cli(click.Group):
    """The command group that shows every ``UserError`` the same way: one ``Error:`` line, its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"Error: {exc.details()}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="listener")
@click.option("-c", "--config", metavar="PATH", help="Settings file (default: $LISTENER_CONFIG, else ./settings.toml).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (for cron).")
@click.option("--now", "now_", metavar="TIME", hidden=True, help="Pretend the time is TIME (ISO 8601, UTC).")
@click.pass_context
def cli(ctx: click.Context, config: str | None, quiet: bool, now_: str | None) -> None:
    """listener: collect public posts and feeds, tag product mentions and mood, write daily digests."""
    ctx.obj = Ctx(config=config, quiet=quiet, now=_now(now_))


@cli.command("init-db")
@click.pass_obj
def init_db(obj: Ctx) -> None:
    """Create the database (or upgrade its schema) and register the configured sources; with no
    user yet, create the first admin and print its password once."""
    from listener import users

    settings = obj.settings()
    db = obj.db(create=True)
    obj.say(f"Database ready: {settings.db_path} (schema: {', '.join(store.applied_migrations(db))})")
    password = users.ensure_first_admin(db, now=iso_utc(obj.now))
    if password:  # shown even with --quiet: it is never shown again
        click.echo(f"Created the first user, {users.FIRST_ADMIN!r} (role admin), with the password {password}\n"
                   f"It is shown only now: keep it, or change it with `listener users passwd {users.FIRST_ADMIN}`.")


@cli.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.pass_obj
def collect(obj: Ctx, sources: tuple[str, ...]) -> None:
    """Fetch sources (default: every enabled source) and store new and edited posts.

    Exits with code 1 if any source failed; the others are still collected.
    """
    report = _collect(obj, sources)
    if report.failed:
        sys.exit(1)


def _collect(obj: Ctx, names: tuple[str, ...]) -> pipeline.CollectReport:
    settings = obj.settings()
    chosen = [settings.source(n).name for n in names] if names else \
        [s.name for s in settings.sources if s.enabled]
    db = obj.db()
    with obj.progress() as progress:
        task = progress.add_task("Collecting", total=len(chosen))

        def done(o: pipeline.SourceOutcome) -> None:
            progress.advance(task)
            _print_outcome(obj, o)

        report = pipeline.collect(db, settings, names, now=obj.now, on_source=done)
    _say_collected(obj, report)
    return report


def _say_collected(obj: Ctx, report: pipeline.CollectReport) -> None:
    c = report.counts
    obj.say(f"Collected {len(report.outcomes)} source(s): {c.new} new, {c.updated} updated, "
            f"{c.unchanged} unchanged, {len(report.failed)} failed.")


def _print_outcome(obj: Ctx, o: pipeline.SourceOutcome) -> None:
    if o.skipped:
        obj.say(f"  {o.name}: skipped, {o.skipped}; 'listener collect {o.name}' tries it again")
    elif o.error:
        for line in o.error.splitlines():  # a forum run keeps every failure, one line each
            click.echo(f"error: source {o.name}: {line}", err=True)
    elif o.status == 304:
        obj.say(f"  {o.name}: not modified since last fetch")
    else:
        note = f" (malformed feed, kept what parsed: {o.bozo})" if o.bozo else ""
        obj.say(f"  {o.name}: {o.entries} entries, {o.counts.new} new, {o.counts.updated} updated{note}")


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Re-classify every post, not only new and edited ones.")
@click.pass_obj
def classify(obj: Ctx, everything: bool) -> None:
    """Tag posts with sentiment (settings: sentiment.model), products, topics and language."""
    _classify(obj, everything)


def _classify(obj: Ctx, everything: bool) -> pipeline.ClassifyReport:
    settings = obj.settings()
    db = obj.db()
    with obj.progress() as progress:
        task = progress.add_task("Classifying", total=store.count_to_classify(db, everything=everything))
        report = pipeline.classify(db, settings, everything=everything, now=obj.now,
                                   on_batch=lambda n: progress.advance(task, n))
    _say_classified(obj, report)
    return report


def _say_classified(obj: Ctx, report: pipeline.ClassifyReport) -> None:
    labels = ", ".join(f"{report.labels.get(k, 0)} {k}" for k in ("positive", "neutral", "negative", "unscored"))
    obj.say(f"Classified {report.classified} post(s): {labels}; {report.mentions} product mention(s).")


@cli.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Last day of the digest (default: yesterday, UTC).")
@click.option("--days", type=click.IntRange(1, 366), help="Length of the period in days, ending on --date (default 1).")
@click.option("--weekly", is_flag=True, help="The weekly digest: the 7 days ending on --date.")
@click.option("--product", metavar="NAME", help="Only this product's section (share of voice still among all).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder (default: digest.output_dir).")
@click.option("--cutoff", metavar="TIME", help="Count only posts fetched by TIME (a digest's recorded cut-off, "
              "to reproduce it; default: now).")
@click.option("--search", "saved", metavar="NAME", help="Count only the posts this saved search matches.")
@click.option("--send/--no-send", default=True, show_default=True, help="Send to the channels in digest.channels.")
@click.pass_obj
def digest(obj: Ctx, day: str | None, days: int | None, weekly: bool, product: str | None,
           out_dir: str | None, cutoff: str | None, saved: str | None, send: bool) -> None:
    """Write the digest (HTML with charts, Markdown, JSON, PDF) for a day or a period, print the paths, send it.

    Exits with code 1 if a delivery failed (the files are written regardless).
    """
    the_day = _day_option(day, "--date") or pipeline.yesterday(obj.now)
    if weekly and days not in (None, 7):
        raise click.UsageError("--weekly is the same as --days 7; give one of them")
    names = {p.name for p in obj.settings().products}
    if product and product not in names:
        raise click.BadParameter(f"no product named {product!r} (known: {', '.join(sorted(names))})",
                                 param_hint="--product")
    if saved is not None:
        known = [s["name"] for s in store.saved_searches(obj.db())]
        if saved not in known:
            raise click.BadParameter(f"no saved search named {saved!r} (saved: {', '.join(known) or 'none'})",
                                     param_hint="--search")
    report = _digest(obj, the_day, 7 if weekly else (days or 1), Path(out_dir) if out_dir else None,
                     product=product, send=send, cutoff=iso_utc(_now(cutoff)) if cutoff else None, search=saved)
    if any(not r.ok for r in report.deliveries):
        sys.exit(1)


def _digest(obj: Ctx, day: date, days: int, out_dir: Path | None, *, product: str | None = None,
            send: bool = True, channels=None, cutoff: str | None = None,
            search: str | None = None) -> pipeline.DigestReport:
    settings = obj.settings()
    check_writable(out_dir or settings.digest.output_dir, key="--out" if out_dir else "digest.output_dir",
                   directory=True)
    report = pipeline.digest(obj.db(), settings, day=day, days=days, now=obj.now, out_dir=out_dir,
                             product=product, send=send, channels=channels, cutoff=cutoff, search=search)
    _print_digest(obj, report)
    return report


def _print_digest(obj: Ctx, report: pipeline.DigestReport) -> None:
    for p in report.paths:
        click.echo(str(p))
    if report.digest.notice:
        obj.say(f"note: {report.digest.notice}")
    for r in report.deliveries:
        if r.ok:
            obj.say(f"sent to {r.channel} ({r.attempts} attempt{'s' if r.attempts > 1 else ''})")
        else:
            click.echo(f"error: delivery {r.channel}: {r.error} (after {r.attempts} attempts)", err=True)


@cli.group(invoke_without_command=True)
@click.option("--send/--no-send", default=True, show_default=True, help="Send alerts that fire to their channels.")
@click.pass_context
def alerts(ctx: click.Context, send: bool) -> None:
    """Check every alert rule now; record and send the alerts that fire (once per episode).
    'alerts list|add|remove' manage the rules ([[alerts.rules]] in the settings file)."""
    if ctx.invoked_subcommand is None:
        _alerts(ctx.obj, send)


def _alerts(obj: Ctx, send: bool) -> list:
    from reports.alerts import check_alerts

    outcomes = check_alerts(obj.db(), obj.settings(), now=obj.now, send=send)
    _print_alerts(obj, outcomes)
    return outcomes


def _print_alerts(obj: Ctx, outcomes: list) -> None:
    for o in outcomes:
        if o.fired:
            click.echo(f"ALERT {o.rule}: {o.reason}")
            for r in o.deliveries:
                if not r.ok:
                    click.echo(f"error: delivery {r.channel}: {r.error}", err=True)
        else:
            obj.say(f"ok    {o.rule}: {o.reason}")
    if not outcomes:
        obj.say("No alert rules configured (see [[alerts.rules]] in the README).")


@cli.command()
@click.option("--once", is_flag=True, help="Run one cycle and exit (required; 'listener daemon' runs on a schedule).")
@click.pass_obj
def run(obj: Ctx, once: bool) -> None:
    """Run one full cycle: collect, classify, find emerging topics, write and send yesterday's digest, check alerts.

    Exits with code 1 if any source failed (the cycle still completes).
    """
    if not once:
        raise click.UsageError("use 'listener run --once' for one cycle, or 'listener daemon' to run on a schedule")
    settings = obj.settings()
    check_paths(settings, "store.path", "digest.output_dir")  # before collecting, not after
    db = obj.db(create=True)
    with _cycle_shown(obj, sources=len([s for s in settings.sources if s.enabled])) as hooks:
        report = pipeline.cycle(db, settings, now=obj.now, hooks=hooks)
    if report.failed:
        sys.exit(1)


@contextmanager
def _cycle_shown(obj: Ctx, *, sources: int) -> Iterator[pipeline.CycleHooks]:
    """Hooks that show a running cycle as `collect`, `classify`, `digest` and `alerts` show their work:
    a progress bar while collecting (of ``sources``) and while classifying, a line per source, and each
    step's summary as the step ends."""
    printers = {"collect": _say_collected, "classify": _say_classified, "digest": _print_digest,
                "alerts": _print_alerts}
    progress: Progress | None = None
    task = None

    def show_bar(description: str, total: int) -> None:
        nonlocal progress, task
        progress = obj.progress()
        progress.start()
        task = progress.add_task(description, total=total)

    def hide_bar() -> None:  # before a step's summary: one bar at a time, gone when its step ends
        nonlocal progress
        if progress is not None:
            progress.stop()
            progress = None

    def source_done(o: pipeline.SourceOutcome) -> None:
        progress.advance(task)
        _print_outcome(obj, o)

    def step_done(step: str, report: object) -> None:
        hide_bar()
        if step in printers:
            printers[step](obj, report)

    show_bar("Collecting", sources)
    try:
        yield pipeline.CycleHooks(on_source=source_done, on_classify=lambda n: show_bar("Classifying", n),
                                  on_batch=lambda n: progress.advance(task, n), on_step=step_done)
    finally:
        hide_bar()


@cli.command()
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Least severe log lines written (one line per job at INFO).")
@click.pass_obj
def daemon(obj: Ctx, log_level: str) -> None:
    """Run collection, classification, digests and purges on the [schedule] until SIGTERM/SIGINT.

    Logs one line per job to stderr (or schedule.log_file). Exit code 0 after a stop signal,
    2 if another daemon already runs on the same database.
    """
    from listener.app.daemon import run_daemon

    sys.exit(run_daemon(obj.settings(), log_level=log_level))


@cli.command()
@click.pass_obj
def status(obj: Ctx) -> None:
    """Per source: state, last success, last error, next run, posts in 24 h, backoff; daemon; last digest.

    Exit code 1 if any source is failing (for health checks), else 0.
    """
    from listener.app.health import status as health_status

    st = health_status(obj.db(), obj.settings(), now=obj.now)
    table = Table(show_lines=False)
    for col in ("source", "state", "last success (UTC)", "next run (UTC)", "posts 24h", "backoff", "last error"):
        table.add_column(col, overflow="fold")
    for h in st.sources:
        table.add_row(h.name, h.state, h.last_success or "never", h.next_run or "-", str(h.posts_24h),
                      h.backoff, h.last_error or h.note)
    Console(width=_width(200), soft_wrap=False).print(table)
    click.echo(f"Daemon: {st.daemon}")
    click.echo(f"Last digest: {st.last_digest or 'none yet'}")
    if not st.healthy:
        click.echo(f"Failing: {', '.join(st.failing)}", err=True)
        sys.exit(1)


@cli.command()
@click.option("--days", type=click.IntRange(0, MAX_KEEP_DAYS), metavar="N",
              help="Keep posts published in the last N days (default: schedule.retention_days; 0 keeps all).")
@click.pass_obj
def purge(obj: Ctx, days: int | None) -> None:
    """Delete posts older than the retention period, with their mentions and search entries."""
    report = pipeline.purge(obj.db(), obj.settings(), now=obj.now, days=days)
    if report.before is None:
        obj.say("Retention is off (keep forever): nothing deleted.")
    else:
        obj.say(f"Deleted {report.deleted} post(s) published before {report.before}.")


@cli.group("sources", invoke_without_command=True)
@click.pass_context
def sources_cmd(ctx: click.Context) -> None:
    """List sources with their last fetch, status, error and number of posts; 'sources add' adds one."""
    if ctx.invoked_subcommand is None:
        _list_sources(ctx.obj)


class _SourceTypeChoice(click.Choice):
    """The registered source types, looked up when the option is used: importing the CLI loads no plugins."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from listener.sources import source_types

        return tuple(source_types())  # a plugin that cannot load is a UserError: one line, exit 2

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # click.Choice.__init__ stores its argument; the registry is the source of truth


@sources_cmd.command("add")
@click.argument("name")
@click.option("--type", "type_", type=_SourceTypeChoice(), default="feed", show_default=True,
              help="The source type (see \"Sources\" in the README).")
@click.option("--url", help="Feed URL, Mastodon instance, forum board URL (API types have a default).")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE",
              help="A type-specific key, e.g. --set subreddit=firefox (repeatable; TOML values or plain text).")
@click.pass_obj
def sources_add(obj: Ctx, name: str, type_: str, url: str | None, pairs: tuple[str, ...]) -> None:
    """Append a [[sources]] entry to the settings file (checked by re-loading it first)."""
    from listener.config.edit import add_source

    entry = _audited(obj, lambda path: add_source(path, name=name, type=type_, url=url, pairs=pairs))
    obj.say(f"Added source {entry.name} ({entry.type}) to {settings_path(obj.config)}")


@sources_cmd.command("edit")
@click.argument("name")
@click.option("--url", help="A new URL.")
@click.option("--interval", metavar="DURATION", help="How often to collect it (\"30m\", \"2h\" or seconds).")
@click.option("--enable/--disable", default=None, help="Collect it, or keep it and its posts but skip it.")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Set a key (repeatable; TOML values or plain text).")
@click.option("--unset", multiple=True, metavar="KEY", help="Remove a key: its default applies (repeatable).")
@click.pass_obj
def sources_edit(obj: Ctx, name: str, url: str | None, interval: str | None, enable: bool | None,
                 pairs: tuple[str, ...], unset: tuple[str, ...]) -> None:
    """Change keys of a [[sources]] entry (checked by re-loading the settings first; comments kept)."""
    from listener.config.edit import literal, parse_pairs

    changes: dict = {key: None for key in unset}
    changes.update({k: v for k, v in (("url", url), ("interval", literal(interval) if interval else None),
                                      ("enabled", enable)) if v is not None})
    changes.update(parse_pairs(pairs))
    _edit_entry(obj, "sources", name, changes, f"Changed source {name}")


@sources_cmd.command("remove")
@click.argument("name")
@click.pass_obj
def sources_remove(obj: Ctx, name: str) -> None:
    """Remove a [[sources]] entry from the settings file (its collected posts stay in the database)."""
    _remove_entry(obj, "sources", name, f"Removed source {name}")


def _edit_entry(obj: Ctx, kind: str, name: str, changes: dict, done: str) -> None:
    from listener.config.edit import update_entry

    if not changes:
        raise BadInput("nothing to change: give at least one option (see --help)")
    _audited(obj, lambda path: update_entry(path, kind, name, changes))
    obj.say(f"{done} in {settings_path(obj.config)}")


def _remove_entry(obj: Ctx, kind: str, name: str, done: str) -> None:
    from listener.config.edit import remove_entry

    _audited(obj, lambda path: remove_entry(path, kind, name))
    obj.say(f"{done} from {settings_path(obj.config)}")


def _add_entry(obj: Ctx, kind: str, values: dict, done: str) -> None:
    from listener.config.edit import add_entry

    _audited(obj, lambda path: add_entry(path, kind, values))
    obj.say(f"{done} to {settings_path(obj.config)}")


def cli_user() -> str:
    """Who the audit log names for a command: ``cli:`` and the OS user (``cli:uid1000`` when the
    system cannot name them, as in a container without a passwd entry)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError, ImportError):
        return f"cli:uid{os.getuid()}"


def _audited(obj: Ctx, change: Callable[[Path], T]) -> T:
    """Run one edit of the settings file, then write its audit rows (``settings.KIND.add|edit|remove``, as
    the web's) into the database when it exists: editing the settings never needs a database. An audit
    that cannot be written is one warning line; the edit stands."""
    from listener.config.edit import all_entries, entry_changes

    path = settings_path(obj.config)
    try:
        before = all_entries(path)
    except (OSError, ValueError, UserError):  # no file, or one that does not parse: the edit says so in one line
        before = None
    result = change(path)
    if before is None:
        return result
    changes = entry_changes(before, all_entries(path))
    db_path = load_settings(path).db_path
    if not changes or not Path(db_path).exists():
        return result
    try:
        db = store.open_db(db_path)
        try:
            for action, name, old, new in changes:
                store.audit(db, who=cli_user(), action=action, target=name, before=old, after=new,
                            now=iso_utc(obj.now))
        finally:
            db.close()
    except (sqlite3.Error, OSError) as exc:
        click.echo(f"Warning: the change is saved but not in the audit log of {db_path}: {exc}", err=True)
    return result


def _print_rows(columns: tuple[str, ...], rows: list[tuple[str, ...]], empty: str) -> None:
    if not rows:
        click.echo(empty)
        return
    table = Table(show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(width=_width(), soft_wrap=False).print(table)


@cli.group("products", invoke_without_command=True)
@click.pass_context
def products_cmd(ctx: click.Context) -> None:
    """List the tracked products; 'products add|edit|remove' change them ([[products]] in the settings file)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(products_list)


@products_cmd.command("list")
@click.pass_obj
def products_list(obj: Ctx) -> None:
    """Every product with its aliases and excludes, ours first."""
    _print_rows(("name", "aliases", "exclude", "side"),
                [(p.name, ", ".join(p.aliases), ", ".join(p.exclude), "ours" if p.ours else "competitor")
                 for p in sorted(obj.settings().products, key=lambda p: not p.ours)],
                "No products configured ('listener products add NAME').")


@products_cmd.command("add")
@click.argument("name")
@click.option("--alias", "aliases", multiple=True, help="A word or phrase that counts as a mention (repeatable; "
              "default: the name).")
@click.option("--exclude", "excludes", multiple=True, help="A phrase masked out before matching (repeatable).")
@click.option("--ours/--competitor", default=False, show_default=True, help="Your product, or a competitor's.")
@click.pass_obj
def products_add(obj: Ctx, name: str, aliases: tuple[str, ...], excludes: tuple[str, ...], ours: bool) -> None:
    """Add a product (checked by re-loading the settings first; comments kept)."""
    _add_entry(obj, "products", {"name": name, "aliases": list(aliases) or None, "exclude": list(excludes) or None,
                                 "ours": ours or None}, f"Added product {name}")


@products_cmd.command("edit")
@click.argument("name")
@click.option("--name", "new_name", help="A new name (rules naming the old one must be changed first).")
@click.option("--alias", "aliases", multiple=True, help="The aliases (repeatable; replaces the list).")
@click.option("--exclude", "excludes", multiple=True, help="The excludes (repeatable; replaces the list).")
@click.option("--no-excludes", is_flag=True, help="Remove every exclude.")
@click.option("--ours/--competitor", default=None, help="Your product, or a competitor's.")
@click.pass_obj
def products_edit(obj: Ctx, name: str, new_name: str | None, aliases: tuple[str, ...], excludes: tuple[str, ...],
                  no_excludes: bool, ours: bool | None) -> None:
    """Change a product's name, aliases, excludes or side. Re-tag existing posts with 'listener classify --all'."""
    changes: dict = {"exclude": None} if no_excludes else {}
    for key, value in (("name", new_name), ("aliases", list(aliases) or None), ("exclude", list(excludes) or None)):
        if value is not None:
            changes[key] = value
    if ours is not None:
        changes["ours"] = ours
    _edit_entry(obj, "products", name, changes, f"Changed product {name}")


@products_cmd.command("remove")
@click.argument("name")
@click.pass_obj
def products_remove(obj: Ctx, name: str) -> None:
    """Remove a product (refused while an alert rule watches it)."""
    _remove_entry(obj, "products", name, f"Removed product {name}")


@cli.group("topics", invoke_without_command=True)
@click.pass_context
def topics_cmd(ctx: click.Context) -> None:
    """List the topics; 'topics add|remove' change them ([[topics]] in the settings file)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(topics_list)


@topics_cmd.command("list")
@click.pass_obj
def topics_list(obj: Ctx) -> None:
    """Every topic with its terms (then each language's own: "de: Akku") and excludes."""
    _print_rows(("name", "terms", "exclude"),
                [(t.name, "; ".join([", ".join(t.terms)] * bool(t.terms) + [f"{lang}: {', '.join(terms)}"
                                                                           for lang, terms in t.terms_by_language]),
                  ", ".join(t.exclude)) for t in obj.settings().topics],
                "No topics configured ('listener topics add NAME --term WORD').")


@topics_cmd.command("add")
@click.argument("name")
@click.option("--term", "terms", multiple=True, help="A word or phrase of the topic, in every language (repeatable; "
              "crash* matches any word starting with crash).")
@click.option("--term-in", "terms_in", multiple=True, type=(str, str), metavar="LANG TERM",
              help="A term for posts in one language, e.g. --term-in de Akku (repeatable; terms_by_language).")
@click.option("--exclude", "excludes", multiple=True, help="A phrase masked out before matching (repeatable).")
@click.pass_obj
def topics_add(obj: Ctx, name: str, terms: tuple[str, ...], terms_in: tuple[tuple[str, str], ...],
               excludes: tuple[str, ...]) -> None:
    """Add a topic (checked by re-loading the settings first; comments kept); it needs a term in some language."""
    by_language: dict[str, list[str]] = {}
    for lang, term in terms_in:
        by_language.setdefault(lang, []).append(term)
    _add_entry(obj, "topics", {"name": name, "terms": list(terms) or None, "terms_by_language": by_language or None,
                               "exclude": list(excludes) or None}, f"Added topic {name}")


@topics_cmd.command("remove")
@click.argument("name")
@click.pass_obj
def topics_remove(obj: Ctx, name: str) -> None:
    """Remove a topic."""
    _remove_entry(obj, "topics", name, f"Removed topic {name}")


@alerts.command("list")
@click.pass_obj
def alerts_list(obj: Ctx) -> None:
    """Every alert rule: what it watches, its condition and channels."""
    _print_rows(("name", "watches", "condition", "metric", "threshold", "window", "channels"),
                [(r.name, r.subject, r.condition, r.metric, f"{r.threshold:g}" if r.condition == "threshold" else "",
                  f"{r.window}s", ", ".join(r.channels) or "recorded only") for r in obj.settings().alerts.rules],
                "No alert rules configured ('listener alerts add NAME --product NAME').")


@alerts.command("add")
@click.argument("name")
@click.option("--product", help="The product the rule watches.")
@click.option("--query", help="A query in the search language; the rule counts its matches.")
@click.option("--saved", help="Or the name of a saved search.")
@click.option("--condition", type=click.Choice(["spike", "threshold", "new_mention"]), default="spike", show_default=True)
@click.option("--metric", type=click.Choice(["volume", "negative_share"]), default="volume", show_default=True)
@click.option("--threshold", type=float, help="For --condition threshold: mentions in the window, or a share 0..1.")
@click.option("--window", metavar="DURATION", help="How much recent data one check judges (default 24h).")
@click.option("--channel", "channels", multiple=True, help="A channel to send to (repeatable; none: recorded only).")
@click.option("--cooldown", metavar="DURATION", help="Per-rule cooldown (default: alerts.cooldown).")
@click.option("--quiet-hours", metavar="HH:MM-HH:MM", help="Per-rule quiet hours (default: alerts.quiet_hours).")
@click.pass_obj
def alerts_add(obj: Ctx, name: str, product: str | None, query: str | None, saved: str | None, condition: str,
               metric: str, threshold: float | None, window: str | None, channels: tuple[str, ...],
               cooldown: str | None, quiet_hours: str | None) -> None:
    """Add an alert rule (checked by re-loading the settings first: unknown products or channels are refused)."""
    from listener.config.edit import literal

    values = {"name": name, "condition": None if condition == "spike" else condition, "product": product,
              "metric": None if metric == "volume" else metric, "threshold": threshold,
              "window": literal(window) if window else None, "channels": list(channels) or None,
              "cooldown": literal(cooldown) if cooldown else None, "quiet_hours": quiet_hours, "query": query,
              "saved": saved}
    _add_entry(obj, "alerts.rules", values, f"Added alert rule {name}")


@alerts.command("remove")
@click.argument("name")
@click.pass_obj
def alerts_remove(obj: Ctx, name: str) -> None:
    """Remove an alert rule (its recorded alerts stay)."""
    _remove_entry(obj, "alerts.rules", name, f"Removed alert rule {name}")


@cli.group("channels", invoke_without_command=True)
@click.pass_context
def channels_cmd(ctx: click.Context) -> None:
    """List the alert and digest channels; 'channels add|edit|remove' change them ([[channels]] in the settings file)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(channels_list)


@channels_cmd.command("list")
@click.pass_obj
def channels_list(obj: Ctx) -> None:
    """Every channel: type, where it sends, and whether the environment variables holding its secrets are set."""
    from listener.config.edit import channel_summary

    shown = [channel_summary(ch) for ch in obj.settings().channels]
    _print_rows(("name", "type", "sends to", "secrets"),
                [(c["name"], c["type"], c["where"], "; ".join(f"{s['key']}: ${s['env']} {'set' if s['set'] else 'NOT SET'}"
                                                              for s in c["secrets"]) or "none") for c in shown],
                "No channels configured ('listener channels add NAME --type email --to ADDRESS').")


def _channel_options(command):
    """The keys of a [[channels]] entry as options (see the settings table: channels[])."""
    for option in reversed((
        click.option("--to", "to", multiple=True, metavar="ADDRESS", help="email: a recipient (repeatable; replaces the list)."),
        click.option("--from", "sender", metavar="ADDRESS", help="email: the sender."),
        click.option("--host", help="email: the SMTP server."),
        click.option("--port", type=click.IntRange(1, 65535), help="email: the SMTP port."),
        click.option("--security", type=click.Choice(["none", "starttls", "ssl"]), help="email: TLS."),
        click.option("--user", help="email: the SMTP user (login only when set)."),
        click.option("--password-env", metavar="VAR", help="email: the environment variable holding the SMTP password."),
        click.option("--url", help="slack/webhook: the URL (a secret: prefer --url-env)."),
        click.option("--url-env", metavar="VAR", help="slack/webhook: the environment variable holding the URL."),
        click.option("--secret-env", metavar="VAR", help="webhook: the environment variable holding the signing secret."),
        click.option("--attempts", type=click.IntRange(1, 1000), help="Tries before a delivery counts as failed."),
        click.option("--backoff", type=click.FloatRange(0, 3600), help="Seconds before the first retry."),
        click.option("--timeout", type=click.FloatRange(0, 3600, min_open=True), help="Seconds per attempt."),
    )):
        command = option(command)
    return command


def _channel_values(to: tuple[str, ...], **keys: object) -> dict:
    """The options given, as the entry's keys (``from`` for ``sender``)."""
    values: dict = {"to": list(to)} if to else {}
    values.update({("from" if k == "sender" else k): v for k, v in keys.items() if v is not None})
    return values


@channels_cmd.command("add")
@click.argument("name")
@click.option("--type", "type_", type=click.Choice(["email", "slack", "webhook"]), required=True)
@_channel_options
@click.pass_obj
def channels_add(obj: Ctx, name: str, type_: str, to: tuple[str, ...], **keys: object) -> None:
    """Add a channel (checked by re-loading the settings first; secrets stay in environment variables)."""
    _add_entry(obj, "channels", {"name": name, "type": type_, **_channel_values(to, **keys)},
               f"Added channel {name}")


@channels_cmd.command("edit")
@click.argument("name")
@click.option("--name", "new_name", help="A new name (rules and digest.channels naming the old one must be changed first).")
@click.option("--type", "type_", type=click.Choice(["email", "slack", "webhook"]), help="Another type.")
@_channel_options
@click.option("--unset", multiple=True, metavar="KEY", help="Remove a key, e.g. url: its default applies (repeatable).")
@click.pass_obj
def channels_edit(obj: Ctx, name: str, new_name: str | None, type_: str | None, to: tuple[str, ...],
                  unset: tuple[str, ...], **keys: object) -> None:
    """Change keys of a channel (checked by re-loading the settings first; comments kept)."""
    changes: dict = {key: None for key in unset}
    changes.update(_channel_values(to, name=new_name, type=type_, **keys))
    _edit_entry(obj, "channels", name, changes, f"Changed channel {name}")


@channels_cmd.command("remove")
@click.argument("name")
@click.pass_obj
def channels_remove(obj: Ctx, name: str) -> None:
    """Remove a channel (refused while digest.channels or an alert rule sends to it)."""
    _remove_entry(obj, "channels", name, f"Removed channel {name}")


SHOWN_ERRORS = 3


def _first_errors(error: str | None) -> str:
    """The first few of a fetch's error lines, and how many there were in all."""
    lines = (error or "").splitlines()
    if len(lines) <= SHOWN_ERRORS:
        return "\n".join(lines)
    return "\n".join(lines[:SHOWN_ERRORS] + [f"({len(lines)} errors in all; 'listener collect NAME' lists every one)"])


def _list_sources(obj: Ctx) -> None:
    settings = obj.settings()
    rows = store.sources_table(obj.db())
    configured = {s.name for s in settings.sources}
    table = Table(show_lines=False)
    for col in ("name", "type", "state", "last fetch (UTC)", "status", "posts", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        name = r["name"] if r["name"] in configured else f"{r['name']} (not in settings)"
        status = "-" if r["last_status"] is None and not r["last_error"] else \
            ("error" if r["last_error"] else str(r["last_status"]))
        kind = f"{r['type']} ({r['engine']})" if r.get("engine") else r["type"]
        table.add_row(name, kind, "active" if r["active"] else "INACTIVE", r["last_fetch_at"] or "never",
                      status, str(r["posts"]),
                      _first_errors(r["last_error"]) or (f"malformed but usable: {r['bozo']}" if r["bozo"] else ""))
    Console(width=_width(), soft_wrap=False).print(table)


@cli.command()
@click.option("--dir", "work_dir", default="listener-demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo's settings, database and digest.")
@click.option("--smtp", metavar="HOST:PORT", help="Also email the digest through this SMTP server (no auth).")
@click.option("--to", "to_addr", default="demo@localhost", show_default=True, help="Recipient for --smtp.")
@click.pass_obj
def demo(obj: Ctx, work_dir: str, smtp: str | None, to_addr: str) -> None:
    """Run one full cycle against bundled real feeds and API answers served on 127.0.0.1, their dates shifted
    to end yesterday; print the digest's paths (HTML, Markdown, JSON, PDF) and the alerts that fired."""
    from listener.config import Channel
    from listener.app.demo import run_demo

    channel = None
    if smtp:
        host, _, port = smtp.rpartition(":")
        if not host or not port.isdigit():
            raise click.BadParameter(f"expected HOST:PORT, got {smtp!r}", param_hint="--smtp")
        channel = Channel(name="demo-smtp", type="email", to=(to_addr,), sender="listener-demo@localhost",
                          host=host, port=int(port), attempts=2, timeout=10.0)
    check_writable(work_dir, key="--dir", directory=True)
    result = run_demo(Path(work_dir), now=obj.now, quiet=True, channel=channel)
    for line in result.errors:  # errors are printed with --quiet too
        click.echo(line)
    table = Table(title=result.digest.title)
    for col in ("product", "side", "mentions", "share of voice", "net sentiment", "+ / = / -"):
        table.add_column(col, justify="left" if col in ("product", "side") else "right")
    for p in result.digest.products:
        table.add_row(p.name, "ours" if p.ours else "competitor", str(p.mentions),
                      f"{p.share_of_voice * 100:.1f}%" if p.share_of_voice is not None else "n/a",
                      f"{p.net_sentiment:+.0f}" if p.net_sentiment is not None else "n/a",
                      f"{p.positive} / {p.neutral} / {p.negative}")
    if not obj.quiet:
        Console(width=_width()).print(table)
        click.echo(result.note)
        click.echo(f"Stored {result.posts} posts from {result.sources} bundled sources in {result.db_path}")
        click.echo(f"Settings used: {result.settings_path}")
        for day, a in result.alerts:
            click.echo(f"Alert {a.rule} for {day}: {a.reason}")
        if result.alert_files:
            click.echo(f"Alerts the demo's webhook received: {result.alert_files[0].parent}")
    click.echo(f"Digest: {result.paths[0]}")
    click.echo(f"Markdown: {result.paths[1]}")
    click.echo(f"JSON: {result.paths[2]}")
    click.echo(f"PDF: {result.paths[3]}")
    for r in result.deliveries:
        if r.ok:
            click.echo(f"Emailed to {to_addr} via {smtp}")
        else:
            click.echo(f"error: delivery {r.channel}: {r.error}", err=True)
            sys.exit(1)


def _day_option(value: str | None, hint: str) -> date | None:
    try:
        return parse_day(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint)


@cli.command("search")
@click.argument("query", required=False, default="")
@click.option("--since", metavar="YYYY-MM-DD", help="Only posts published on or after this day (UTC).")
@click.option("--until", metavar="YYYY-MM-DD", help="Only posts published on or before this day (UTC).")
@click.option("--limit", type=COUNT, help="Results to print (default 20 for a table, all for csv/json; 0 = all).")
@click.option("--sort", type=click.Choice(search_mod.SORTS), default="relevance", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--saved", metavar="NAME", help="Run a saved search (its query is ANDed with QUERY).")
@click.option("--explain", is_flag=True, help="Print the fully parenthesized query and its SQL; do not search.")
@click.pass_obj
def search_cmd(obj: Ctx, query: str, since: str | None, until: str | None, limit: int | None, sort: str,
               fmt: str, saved: str | None, explain: bool) -> None:
    """Search posts with the boolean query language (see README: Search)."""
    filters = search_mod.Filters(since=_day_option(since, "--since"), until=_day_option(until, "--until"))
    db = obj.db()
    if saved:
        saved_q = search_mod.saved_query(db, saved)
        query = f"({saved_q}) {query}" if query.strip() else saved_q
    plan = search_mod.prepare(db, query, filters=filters, sort=sort)
    if explain:
        click.echo(plan.explain())
        return
    if fmt != "table":
        hits = search_mod.iter_results(db, plan, limit=limit or None)
        chunks = search_mod.csv_chunks(hits) if fmt == "csv" else search_mod.json_chunks(hits)
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    page = search_mod.search(db, plan, limit=20 if limit is None else (limit or 1_000_000))
    _print_hits(obj, page)
    if plan.compiled.about_products and store.unjudged_mentions(db):
        from reports.digest import NOT_COMPUTED_NOTICE
        obj.say(f"note: {NOT_COMPUTED_NOTICE}")


def _print_hits(obj: Ctx, page: "search_mod.Page") -> None:
    from rich.text import Text

    def marked(value: str) -> Text:
        text = Text()
        for part, on in search_mod.marked_parts(value):
            text.append(part, style="bold black on yellow" if on else None)
        return text

    table = Table(show_lines=True)
    for col in ("posted (UTC)", "source", "title / snippet", "mood", "engagement", "products"):
        table.add_column(col, overflow="fold", justify="right" if col == "engagement" else "left")
    for h in page.hits:
        body = marked(h.title_marked or "(untitled)")
        body.append("\n")
        body.append(marked(h.snippet_marked))
        mood = f"{h.sentiment_label or '-'}" + (f" {h.sentiment:+.2f}" if h.sentiment is not None else "")
        table.add_row(h.posted_at[:16].replace("T", " "), h.source, body, mood, str(h.engagement),
                      ", ".join(f"{m['product']} ({m['sentiment_label'] or 'not computed'})" for m in h.products))
    console = Console(width=_width())
    console.print(table)
    shown = f"{page.offset + 1}-{page.offset + len(page.hits)}" if page.hits else "none"
    ranked = f" (the newest {page.ranked:,} ranked)" if page.ranked is not None and page.ranked < page.total else ""
    click.echo(f"{page.total:,} result(s), showing {shown}, sorted by {page.plan.sort}{ranked}.")


@cli.group("saved")
def saved_group() -> None:
    """Saved searches: named queries for reports and alert rules."""


@saved_group.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--owner", help="Who the search belongs to.")
@click.pass_obj
def saved_add(obj: Ctx, name: str, query: str, owner: str | None) -> None:
    """Save QUERY as NAME (replacing an older one of that name)."""
    search_mod.save(obj.db(), name, query, owner=owner, now=iso_utc(obj.now))
    obj.say(f"Saved search {name!r}.")


@saved_group.command("list")
@click.option("--owner", help="Only this owner's searches.")
@click.pass_obj
def saved_list(obj: Ctx, owner: str | None) -> None:
    """List saved searches."""
    table = Table()
    for col in ("name", "owner", "query", "updated (UTC)"):
        table.add_column(col, overflow="fold")
    for s in store.saved_searches(obj.db(), owner):
        table.add_row(s["name"], s["owner"] or "", s["query"], s["updated_at"])
    Console(width=_width()).print(table)


@saved_group.command("remove")
@click.argument("name")
@click.pass_obj
def saved_remove(obj: Ctx, name: str) -> None:
    """Delete a saved search (not one an alert rule watches: the rule would stop working)."""
    rules = search_mod.rules_watching(obj.settings().alerts.rules, name)
    if rules:
        raise BadInput(f"cannot delete saved search {name!r}: alert rule(s) {', '.join(rules)} watch it "
                       f"(change or remove them first: listener alerts remove RULE)", exit_code=2)
    if not store.delete_saved_search(obj.db(), name):
        raise NotFound(f"no saved search named {name!r}", exit_code=2)
    obj.say(f"Removed saved search {name!r}.")


@cli.command()
@click.option("--host", help="Address to listen on (default: serve.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: serve.port, 8080).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (uvicorn's); each answers requests on its own (see README: Deployment).")
@click.pass_obj
def serve(obj: Ctx, host: str | None, port: int | None, workers: int) -> None:
    """Serve the search pages, product overviews and the JSON API (see README: Web UI and API)."""
    from listener.app import web

    settings = obj.settings()
    obj.db()  # create or migrate before serving
    web.run(settings, host=host or settings.serve.host, port=port or settings.serve.port, quiet=obj.quiet,
            workers=workers)


def _width(wide: int = 160) -> int | None:
    """Console width: the terminal's, or ``wide`` when output goes to a file or a pipe."""
    return None if sys.stdout.isatty() else wide


@cli.command()
@click.option("--model", "which", type=click.Choice(["fast", "default", "trained", "multilingual"]), default="fast",
              show_default=True,
              help="Which model to train: the linear `fast` model (about a minute; `trained` is the same), the "
                   "`default` transformer (7 minutes on 2 idle cores, up to 40 on busy ones; needs `pip install 'listener[train]'`), "
                   "or the per-language `multilingual` models (a few minutes; needs --multilingual-data).")
@click.option("--multilingual-data", "multilingual_dir", type=click.Path(file_okay=False, exists=True),
              envvar="LISTENER_SHARED_DATA",
              help="With --model multilingual: the folder holding xlmt_multilingual/ and polish_twitter_mozetic2016/ "
                   "(not redistributable, so not bundled). Default: $LISTENER_SHARED_DATA.")
@click.option("--out", "out", type=click.Path(),
              help="Artifact to write (default: the shipped model file, or folder for --model default; "
                   "with --with-labels: the domain head, default sentiment.adaptation).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True),
              help="Labelled data folder (default: the bundled models/data).")
@click.option("--small", is_flag=True, help="A tiny, fast config (a subset of the data; for tests and trials).")
@click.option("--with-labels", is_flag=True,
              help="Adapt the trained model to your relabels with a domain head (seconds), cross-validated.")
@click.option("--retrain", is_flag=True, help="With --with-labels: retrain the whole model on the data plus your relabels instead.")
@click.option("--no-eval", is_flag=True, help="Skip measuring (no cross-validation).")
@click.option("--relevance", is_flag=True,
              help="Train the mention relevance model instead, on the WePS-3 folder given with --data (about 5 "
                   "minutes); with --with-labels: fit each product's correction on your about/not-about marks.")
@click.pass_obj
def train(obj: Ctx, which: str, out: str | None, data_dir: str | None, small: bool, with_labels: bool, retrain: bool,
          no_eval: bool, relevance: bool, multilingual_dir: str | None) -> None:
    """Train a sentiment model deterministically; print the data checksum, metrics and artifact checksum.
    With --with-labels: fit a domain head on your relabels and print its cross-validated figures.
    With --relevance: the mention relevance model (see README "Relevance")."""
    from listener import learn
    from models import datasets, trained, training

    if relevance:
        _train_relevance(obj, out, data_dir, with_labels, no_eval)
        return

    if which == "multilingual":
        if with_labels or small or no_eval or data_dir:
            raise BadInput("--model multilingual trains on --multilingual-data only, in full and measured: "
                           "--with-labels, --small, --no-eval and --data are for the fast model")
        if not multilingual_dir:
            raise BadInput("--model multilingual needs --multilingual-data DIR (or $LISTENER_SHARED_DATA): the folder "
                           "holding xlmt_multilingual/ and polish_twitter_mozetic2016/")
        path, digest, meta = learn.train_multilingual(Path(multilingual_dir), Path(out) if out else None)
        click.echo(f"data: sha256 {meta['data_sha256']}")
        for lang, info in meta["languages"].items():
            f = info["figures"]
            click.echo(f"{lang}: {info['train']:,} training posts, C {info['C']:g} (cross-validated); validation "
                       f"{f['metric']} {f['value']:.4f} (target >= {info['target']:g}: "
                       f"{'met' if info['met'] else 'NOT MET'}), accuracy {f['accuracy']:.4f}, labelled neutral "
                       f"{f['neutral_share']:.1%}")
            if "figures_encoder" in info:
                f = info["figures_encoder"]
                click.echo(f"{lang} with the encoder part (the default model's tier): validation {f['metric']} "
                           f"{f['value']:.4f} (target >= {info['target']:g}: "
                           f"{'met' if info['met_encoder'] else 'NOT MET'}), accuracy {f['accuracy']:.4f}, labelled "
                           f"neutral {f['neutral_share']:.1%}")
        click.echo(f"artifact: {path} sha256 {digest}")
        return

    if which == "default":
        if with_labels or small or no_eval:
            raise BadInput("--model default trains on the bundled data only, in full and measured: "
                           "--with-labels, --small and --no-eval are for the fast model")
        r = learn.train_default(Path(out) if out else None, data_dir=Path(data_dir) if data_dir else datasets.DATA_DIR,
                                log=click.echo)
        click.echo(f"data: {r['examples']} examples, sha256 {r['data_sha256']}; trained in {r['training_seconds']:.0f} s")
        for name, m in r["metrics"].items():
            click.echo(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items() if k != "n"))
        click.echo(f"artifact: {r['folder']} model.onnx sha256 {r['model_sha256']}, meta.json sha256 {r['artifact_id']}")
        return

    if with_labels and not retrain:
        r = learn.adapt_to_labels(obj.db(), obj.settings(), Path(out) if out else None, folds=0 if no_eval else 5)
        for h in r.heads:
            counts = ", ".join(f"{n} {c}" for c, n in h.label_counts.items())
            who = f"{h.language}: " if h.language else ("en: " if len(r.heads) > 1 else "")
            click.echo(f"{who}labels: {h.labels} relabelled post(s) ({counts}); head fitted in "
                       f"{h.seconds:.2f} s over {h.model}")
            cv = h.cv
            click.echo(f"{who}base model on these labels: accuracy {cv.base_accuracy:.3f}, macro-F1 {cv.base_macro_f1:.3f}")
            if cv.adapted_accuracy is not None:
                click.echo(f"{who}domain head, cross-validated ({cv.folds} folds): accuracy {cv.adapted_accuracy:.3f}, "
                           f"macro-F1 {cv.adapted_macro_f1:.3f} ({cv.adapted_macro_f1 - cv.base_macro_f1:+.3f} vs base)")
            if not h.kept:
                click.echo(f"{who}head not kept: it did worse than its base model out-of-fold, which keeps "
                           "judging these posts")
        if r.unscored:
            click.echo(f"left out: {sum(r.unscored.values())} relabel(s) in languages no model scores now ("
                       + _language_counts(r.unscored) + "); add the language to sentiment.languages to adapt its model")
        if r.path is None:
            click.echo("no head written: none did better than its base model out-of-fold")
            return
        click.echo(f"head: {r.path} sha256 {r.head_sha256}")
        if r.configured:
            click.echo("sentiment.adaptation points at it: run `listener classify --all` to re-label stored posts.")
        else:
            fast = "" if obj.settings().sentiment.model in ("fast", "trained") else ' and sentiment.model = "fast"'
            click.echo(f'to use it, set sentiment.adaptation = "{r.path}"{fast} in the settings, '
                       "then run `listener classify --all`.")
        return
    config = training.SMALL if small else training.TrainConfig()
    path = Path(out) if out else trained.SHIPPED
    result = learn.train(config, path, data_dir=Path(data_dir) if data_dir else datasets.DATA_DIR,
                         db=obj.db() if with_labels else None, evaluate=not no_eval)
    click.echo(f"data: {result.examples} examples, sha256 {result.data_sha256}")
    if result.evaluation:
        for name, value in result.evaluation.figures().items():
            click.echo(f"{name}: {value:.4f} ({learn.how_measured(result.evaluation, name)})")
    click.echo(f"artifact: {result.path} sha256 {result.artifact_sha256}")


def _language_counts(counts: dict[str, int]) -> str:
    """Relabels left out, by language: "fr 2, nl 1"."""
    return ", ".join(f"{lang} {n}" for lang, n in counts.items())


def _train_relevance(obj: Ctx, out: str | None, data_dir: str | None, with_labels: bool, no_eval: bool) -> None:
    """``listener train --relevance``: the relevance model from WePS-3, or with --with-labels each product's
    correction from its marks."""
    from listener import learn

    if with_labels:
        r = learn.adapt_relevance(obj.db(), obj.settings(), Path(out) if out else None)
        for name, n in sorted(r.labels.items()):
            click.echo(f"{name}: {n['about']} about, {n['not_about']} not about")
        click.echo(f"corrections: {r.path} sha256 {r.sha256}" if r.labels else "no about/not-about marks yet "
                   "(mark posts with `listener label POST_ID --product NAME --not-about` or `--about`)")
        if r.labels:
            click.echo("run `listener classify --all` to re-judge stored mentions with them.")
        return
    if data_dir is None:
        raise BadInput("--relevance needs --data DIR: the folder holding the WePS-3 training.tsv "
                       "(its tweets may not be redistributed, so listener does not bundle them)")
    r = learn.train_relevance(Path(data_dir), Path(out) if out else None, folds=0 if no_eval else 5, log=click.echo)
    click.echo(f"data: {r.examples:,} labelled mentions, sha256 {r.data_sha256}")
    if r.metrics:
        for n, f in r.metrics["own_labels"].items():
            click.echo(f"{n} own labels: accuracy {f['accuracy']:.4f}, precision {f['precision']:.4f}, recall "
                       f"{f['recall']:.4f}, precision at recall >= 0.85 {f['precision_at_recall_85']:.4f}")
        f = r.metrics["cross_validated"]
        click.echo(f"entity-held-out: accuracy {f['accuracy']:.4f}, precision at recall >= 0.85 "
                   f"{f['precision_at_recall_85']:.4f} (probability {r.metrics['probability_at_recall_85']:.3f})")
    click.echo(f"artifact: {r.path} sha256 {r.artifact_sha256}")


@cli.command("eval")
@click.option("--labels", is_flag=True, help="Score the configured model on your own relabels instead, beside a cross-validated domain head.")
@click.option("--recorded", is_flag=True, help="Use the cross-validation figures recorded at training time (fast).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True), help="Labelled data folder.")
@click.option("--absa-data", "absa_dir", type=click.Path(file_okay=False, exists=True), envvar="LISTENER_SHARED_DATA",
              help="Folder holding target_dong2014/ and semeval14_absa/ (not redistributable, so not bundled): "
                   "adds the per-mention targets. Default: $LISTENER_SHARED_DATA.")
@click.option("--multilingual-data", "multilingual_dir", type=click.Path(file_okay=False, exists=True),
              help="Folder holding xlmt_multilingual/ and polish_twitter_mozetic2016/: measure each language on its "
                   "validation split now (default: the figures recorded in the artifact when it was trained).")
@click.option("--speed/--no-speed", default=True, show_default=True,
              help="Time the classify step per model on bundled posts (one core).")
@click.option("--speed-posts", type=click.IntRange(1, 100_000), default=2000, show_default=True,
              help="How many bundled posts the speed rows time.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
@click.pass_obj
def eval_cmd(obj: Ctx, labels: bool, recorded: bool, data_dir: str | None, absa_dir: str | None,
             multilingual_dir: str | None, speed: bool, speed_posts: int, json_path: str | None) -> None:
    """Measure every sentiment model against every target; each is marked met or NOT MET."""
    import json as jsonlib

    from listener import learn
    from listener.files import write_atomic
    from models import datasets

    settings = obj.settings()
    console = Console(width=_width())
    if labels:
        ev = learn.evaluate_labels(obj.db(), settings)
        if not ev.n and ev.unscored:
            click.echo(f"None of the {sum(ev.unscored.values())} relabelled post(s) is in a language the models score ("
                       + _language_counts(ev.unscored) + ").")
            return
        if not ev.n:
            click.echo("No relabelled posts yet (see `listener label`).")
            return
        for part in ([ev] if not ev.languages else [ev, *ev.languages]):
            who = f"{part.language}: " if part.language else ("en: " if part is not ev else "")
            click.echo(f"{who}model {part.model} on {part.n} relabelled post(s): accuracy {part.accuracy:.3f}, "
                       f"macro-F1 {part.macro_f1:.3f}"
                       + (" (in-sample: its domain head was fitted on these labels)" if part.in_sample else ""))
            cv = part.cv
            if cv is not None and cv.adapted_accuracy is not None:
                click.echo(f"{who}cross-validated domain head ({cv.folds} folds) on the same labels: accuracy "
                           f"{cv.adapted_accuracy:.3f}, macro-F1 {cv.adapted_macro_f1:.3f}; base model {part.base_model}: "
                           f"accuracy {cv.base_accuracy:.3f}, macro-F1 {cv.base_macro_f1:.3f}")
            elif cv is not None:
                click.echo(f"{who}cross-validated domain head: needs at least 2 relabelled posts")
        if ev.unscored:
            click.echo(f"left out: {sum(ev.unscored.values())} relabel(s) in languages no model scores now ("
                       + _language_counts(ev.unscored) + ")")
        table = Table(title="human label (rows) x model label (columns)")
        cols = ("positive", "neutral", "negative")
        table.add_column("human")
        for c in cols:
            table.add_column(c, justify="right")
        for g in cols:
            table.add_row(g, *(str(ev.confusion.get(g, {}).get(c, 0)) for c in cols))
        console.print(table)
        return
    report = learn.target_report(settings, data_dir=Path(data_dir) if data_dir else datasets.DATA_DIR,
                                 cv=not recorded, absa_dir=Path(absa_dir) if absa_dir else None, speed=speed,
                                 speed_posts=speed_posts,
                                 multilingual_dir=Path(multilingual_dir) if multilingual_dir else None)
    table = Table(title="Sentiment targets")
    for col in ("target", "model", "value", "target value", "status", "how measured"):
        table.add_column(col, justify="right" if col in ("value", "target value") else "left")
    for r in report.rows:
        value = "n/a" if r["value"] is None else f"{r['value']:,.0f}" if r["target"].endswith("_per_s") \
            else f"{r['value']:.4f}"
        table.add_row(r["target"], r["model"], value, "none" if r["threshold"] is None else f">= {r['threshold']:g}",
                      r["status"], r["how"])
    console.print(table)
    for mev in report.mentions:
        click.echo(f"{mev.model} per mention: " + "; ".join(
            f"{n} macro-F1 {f['macro_f1']:.4f} (post-level {mev.post_level[n]['macro_f1']:.4f}), accuracy "
            f"{f['accuracy']:.4f}" for n, f in mev.figures.items()))
    for ev in report.evaluations:
        t = ev.tweeteval_val
        click.echo(f"{ev.model}: TweetEval val macro-recall {t['macro_recall']:.4f}, macro-F1 {t['macro_f1']:.4f}, "
                   f"accuracy {t['accuracy']:.4f}" + "".join(
                       f"; {n} Pearson r {m['pearson_r']:.3f}" for n, m in ev.vader.items() if "pearson_r" in m))
    if json_path:
        write_atomic(Path(json_path), jsonlib.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n")


@cli.command()
@click.argument("file", default="-", type=click.File("r", encoding="utf-8"))
@click.pass_obj
def sentiment(obj: Ctx, file) -> None:
    """Score one text per line of FILE (stdin without FILE); print one JSON line per input."""
    import json as jsonlib

    from listener import learn

    for result in learn.score_lines(file, obj.settings()):
        click.echo(jsonlib.dumps(result, ensure_ascii=False))


@cli.command()
@click.argument("post_id", type=POST_ID)
@click.option("--top", default=8, show_default=True, type=click.IntRange(1, 50), help="Terms listed per direction.")
@click.pass_obj
def explain(obj: Ctx, post_id: int, top: int) -> None:
    """Show why a post got its label: confidence, pushing terms, matched product alias and topic rule,
    and per product mentioned the span judged, its label, score, confidence and basis."""
    from listener import learn

    e = learn.explain_post(obj.db(), obj.settings(), post_id, top)
    if e is None:
        raise NotFound(f"no post with id {post_id}")
    click.echo(f"post {e.post_id}: {e.title or '(untitled)'}")
    conf = f", confidence {e.confidence:.2f}" if e.confidence is not None else ""
    score = f"score {e.score:+.3f}" if e.score is not None else "no score"
    click.echo(f"label: {e.label} ({score}{conf}) by {e.model}; language {e.language or 'unknown'}")
    click.echo(f"why: {e.reason}")
    if e.human_label:
        click.echo(f"human relabel: {e.human_label} (overrides the model in reports)")
    for title, terms in (("pushed towards positive", e.positive_terms), ("pushed towards negative", e.negative_terms)):
        click.echo(f"{title}: " + (", ".join(f"{c.feature} ({c.weight:+.3f})" for c in terms) or "none"))
    click.echo("products: " + (", ".join(f"{p} (alias {a!r})" for p, a in e.mentions) or "none"))
    for m in e.products:   # what the post says about each product, as stored
        if not m["judged"]:
            click.echo(f"  {m['product']}: not judged yet: run classify --all")
            continue
        score = "no score" if m["score"] is None else f"score {m['score']:+.3f}"
        conf = "" if m["confidence"] is None else f", confidence {m['confidence']:.2f}"
        click.echo(f"  {m['product']}: {m['label']} ({score}{conf}), basis {m['basis']}; span {m['span']!r}"
                   + (" (human relabel: overrides the model)" if m["human_label"] else ""))
        terms = [f"{c['feature']} ({c['weight']:+.3f})" for c in m["positive_terms"] + m["negative_terms"]]
        if terms:
            click.echo(f"    pushed by: {', '.join(terms)}")
    for r in e.relevance:   # the relevance model's verdict now
        click.echo(f"  relevance of {r['product']}: {r['reason']}")
    for r in e.rejected:    # as stored: these count in no number
        click.echo(f"  not counted: {r['product']} (alias {r['alias']!r}): {r['reason']}")
    click.echo("topics: " + (", ".join(
        f"{t} (term {term!r}, sentiment {'n/a' if s is None else f'{s:+.2f}'})" for t, term, s in e.topics) or "none"))


@cli.command()
@click.argument("post_id", type=POST_ID)
@click.option("--sentiment", "sentiment_", type=click.Choice(["positive", "neutral", "negative"]),
              help="The correct sentiment label (of the post, or with --product of what it says about that product).")
@click.option("--product", metavar="NAME", help="Relabel what the post says about this product (one it mentions).")
@click.option("--topics", metavar="NAMES", help="The correct topics, comma-separated ('' for none).")
@click.option("--about/--not-about", "about", default=None,
              help="With --product: the post is (not) about this product; a not-about mention leaves every number "
                   "at once, and both are training data (`listener train --relevance --with-labels`).")
@click.pass_obj
def label(obj: Ctx, post_id: int, sentiment_: str | None, product: str | None, topics: str | None,
          about: bool | None) -> None:
    """Correct a post's sentiment and/or topics, or with --product the sentiment of one product's mention or
    whether the post is about that product (--about / --not-about); the correction overrides the model and
    is training data (`listener train --with-labels`, `listener train --relevance --with-labels`). Each
    change is in the audit log as made by cli:OSUSER: in the post's history (`listener history`, the post
    page) and undone by `listener undo` or from the web like a change made there."""
    from listener import labels

    now, who = iso_utc(obj.now), cli_user()
    if about is not None:
        if product is None or topics is not None or (sentiment_ is not None and not about):
            raise click.UsageError("--about/--not-about take --product NAME (and, with --about, maybe --sentiment)")
        name = labels.change_mention(obj.db(), obj.settings(), post_id, product, "about" if about else "not_about",
                                     who=who, now=now)
        obj.say(f"Post {post_id}: marked {'about' if about else 'not about'} {name}"
                + ("" if about else "; it counts in no number now") + ".")
        if sentiment_ is None:
            return
    if sentiment_ is None and topics is None:
        raise click.UsageError("give --sentiment and/or --topics (or --about/--not-about with --product)")
    if product is not None and (sentiment_ is None or topics is not None):
        raise click.UsageError("--product takes --sentiment and no --topics (topics belong to the post)")
    if product is not None:
        name = labels.change_mention(obj.db(), obj.settings(), post_id, product, sentiment_, who=who, now=now)
        obj.say(f"Post {post_id}: {name} relabelled {sentiment_}.")
        return
    names = [t.strip() for t in topics.split(",") if t.strip()] if topics is not None else None
    db, settings = obj.db(), obj.settings()
    with store.write(db):   # the post's sentiment and topics: both or neither
        if sentiment_ is not None:
            labels.relabel_post(db, settings, post_id, sentiment_, who=who, now=now)
        if names is not None:
            names = labels.set_topics(db, settings, post_id, names, who=who, now=now)
    obj.say(f"Post {post_id} relabelled" + (f": sentiment {sentiment_}" if sentiment_ else "")
            + (f"; topics {', '.join(names) or 'none'}" if names is not None else "") + ".")


@cli.command()
@click.argument("change_id", type=click.IntRange(1, SQLITE_INT_MAX), metavar="CHANGE_ID")
@click.pass_obj
def undo(obj: Ctx, change_id: int) -> None:
    """Undo one change of a post's mention or topics (its number in `listener history` or the post page's
    History): those labels go back to what they were before it and the post is classified again. Refused
    (exit 2, one line saying why) when a later change of the same label supersedes it, it was undone
    already, or it is not such a change."""
    from listener import labels

    change, record = labels.undo_change(obj.db(), obj.settings(), change_id, who=cli_user(), now=iso_utc(obj.now))
    obj.say(f"Undid change {change_id} ({change['action']} of {change['target']}) as change {record['id']}: "
            f"{record['what']}.")


@cli.command()
@click.argument("post_id", type=POST_ID)
@click.pass_obj
def history(obj: Ctx, post_id: int) -> None:
    """The changes of a post's mentions and topics, oldest first (from the web or `listener label`): number,
    when, who, product, what it did, and whether `listener undo` can undo it now (or why not)."""
    from listener import labels

    db = obj.db()
    if store.get_post(db, post_id) is None:
        raise NotFound(f"no post with id {post_id}")
    rows = []
    for c in labels.post_changes(db, post_id):
        product = c["target"].split(" / ", 1)[1] if " / " in c["target"] else "(post)"
        what = c["what"] + (f" (undid #{c['undoes']})" if c["undoes"] else "")
        rows.append((str(c["id"]), c["at"], c["who"], product, f"{c['action']}: {what}",
                     "yes" if c["undoable"] else f"no: {c['why_not']}"))
    _print_rows(("#", "when (UTC)", "who", "product", "what", "undoable"), rows,
                f"No changes of post {post_id} yet.")


@cli.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Last day of the period (default: yesterday, UTC).")
@click.pass_obj
def emerging(obj: Ctx, day: str | None) -> None:
    """Cluster the period's posts per product, name clusters by distinguishing terms, store them."""
    the_day = _day_option(day, "--date") or pipeline.yesterday(obj.now)
    report = pipeline.emerging(obj.db(), obj.settings(), day=the_day, now=obj.now)
    for product, clusters in report.clusters.items():
        for c in clusters:
            click.echo(f"{'all posts' if product == '*' else product}: {', '.join(c.terms)} ({c.size} posts"
                       f"{', new' if c.is_new else ''})")
    total = sum(len(c) for c in report.clusters.values())
    obj.say(f"Stored {total} cluster(s) for {report.start.isoformat()} to {report.end.isoformat()}.")


@cli.group("users")
def users_group() -> None:
    """Users of the web UI and API, with roles viewer < editor < admin (see README: Users and roles)."""


def _password(password_stdin: bool) -> str:
    """The new password: the first line of stdin, or asked twice (not echoed)."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


_PASSWORD_STDIN = click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), required=True, help="What the user may do.")
@_PASSWORD_STDIN
@click.pass_obj
def users_add(obj: Ctx, name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME with a role and a password (asked for, or --password-stdin)."""
    from listener import users

    db = obj.db()
    users.check_name(name)
    if store.get_user(db, name) is not None:  # before asking for a password
        raise BadInput(f"a user named {name!r} exists already (change the password with `listener users passwd`)")
    users.add_user(db, name, role, _password(password_stdin), by=cli_user(), now=iso_utc(obj.now))
    obj.say(f"Added user {name!r} ({role}).")


@users_group.command("passwd")
@click.argument("name")
@_PASSWORD_STDIN
@click.pass_obj
def users_passwd(obj: Ctx, name: str, password_stdin: bool) -> None:
    """Set NAME's password; their open sessions end."""
    from listener import users

    db = obj.db()
    if store.get_user(db, name) is None:
        raise NotFound(f"no user named {name!r}", exit_code=2)
    users.set_password(db, name, _password(password_stdin), by=cli_user(), now=iso_utc(obj.now))
    obj.say(f"Changed the password of {name!r}; their sessions ended.")


@users_group.command("remove")
@click.argument("name")
@click.pass_obj
def users_remove(obj: Ctx, name: str) -> None:
    """Remove user NAME (their sessions and API tokens end)."""
    from listener import users

    users.remove_user(obj.db(), name, by=cli_user(), now=iso_utc(obj.now))
    obj.say(f"Removed user {name!r}.")


@users_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["viewer", "editor", "admin"]))
@click.pass_obj
def users_role(obj: Ctx, name: str, role: str) -> None:
    """Give user NAME another ROLE (at once, in their sessions and token); never demotes the last admin."""
    from listener import users

    users.set_role(obj.db(), name, role, by=cli_user(), now=iso_utc(obj.now))
    obj.say(f"{name!r} now has the role {role}.")


@users_group.command("list")
@click.pass_obj
def users_list(obj: Ctx) -> None:
    """List users: name, role, how many API tokens they have, when added."""
    table = Table()
    for col in ("name", "role", "API tokens", "added (UTC)"):
        table.add_column(col, overflow="fold")
    for u in store.users(obj.db()):
        table.add_row(u["name"], u["role"], str(u["tokens"] or ""), u["created_at"])
    Console(width=_width()).print(table)


@users_group.command("token")
@click.argument("name")
@click.option("--label", default="default", show_default=True,
              help="A name for the token (ci, laptop): a new label adds a token, the same label replaces it.")
@click.pass_obj
def users_token(obj: Ctx, name: str, label: str) -> None:
    """Print a new API token for NAME, once (only its hash is stored). It replaces their token of the same
    label (without --label: 'default', so the plain command replaces the plain token); their others stay."""
    from listener import users

    db = obj.db()
    token = users.issue_token(db, name, label=label, by=cli_user(), now=iso_utc(obj.now))
    click.echo(token)  # alone on stdout, for a script; the note goes to stderr
    if not obj.quiet:
        click.echo(f"The API token {label!r} of {name!r} ({store.get_user(db, name)['role']}): send it as "
                   "`Authorization: Bearer TOKEN`. It is shown only now.", err=True)


@users_group.command("tokens")
@click.argument("name")
@click.pass_obj
def users_tokens(obj: Ctx, name: str) -> None:
    """List NAME's API tokens: label, when made, when last used (never the tokens themselves)."""
    db = obj.db()
    if store.get_user(db, name) is None:
        raise NotFound(f"no user named {name!r}", exit_code=2)
    _print_rows(("label", "created (UTC)", "last used (UTC)"),
                [(t["label"], t["created_at"], t["last_used_at"] or "never") for t in store.tokens(db, name)],
                f"{name!r} has no API token ('listener users token {name} --label LABEL').")


@users_group.command("revoke")
@click.argument("name")
@click.argument("label")
@click.pass_obj
def users_revoke(obj: Ctx, name: str, label: str) -> None:
    """Revoke NAME's API token LABEL: it stops working at once (their other tokens stay)."""
    from listener import users

    users.revoke_token(obj.db(), name, label, by=cli_user(), now=iso_utc(obj.now))
    obj.say(f"Revoked the API token {label!r} of {name!r}.")


def main() -> None:  # pragma: no cover - console entry point
    cli()
