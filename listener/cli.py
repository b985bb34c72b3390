"""The ``listener`` command line. Each command calls one library function in ``listener.pipeline``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from listener import __version__, pipeline, store
from listener.config import ConfigError, Settings, load_settings
from listener.text import parse_day


@dataclass
class Ctx:
    config: str | None
    quiet: bool
    now: datetime
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config)
            except ConfigError as exc:
                click.echo(f"Error: {exc}", err=True)
                sys.exit(2)
        return self._settings

    def db(self):
        """The database, migrated, with every configured source registered."""
        db = store.open_db(self.settings().db_path)
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
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"expected an ISO time such as 2026-11-23T06:00:00Z, got {value!r}")
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    """Create the database (or upgrade its schema) and register the configured sources."""
    settings = obj.settings()
    db = obj.db()
    obj.say(f"Database ready: {settings.db_path} (schema: {', '.join(store.applied_migrations(db))})")


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
    try:
        chosen = [settings.source(n).name for n in names] if names else \
            [s.name for s in settings.sources if s.enabled]
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    db = obj.db()
    with obj.progress() as progress:
        task = progress.add_task("Collecting", total=len(chosen))

        def done(o: pipeline.SourceOutcome) -> None:
            progress.advance(task)
            _print_outcome(obj, o)

        report = pipeline.collect(db, settings, names, now=obj.now, on_source=done)
    c = report.counts
    obj.say(f"Collected {len(report.outcomes)} source(s): {c.new} new, {c.updated} updated, "
            f"{c.unchanged} unchanged, {len(report.failed)} failed.")
    return report


def _print_outcome(obj: Ctx, o: pipeline.SourceOutcome) -> None:
    if o.error:
        click.echo(f"error: source {o.name}: {o.error}", err=True)
    elif o.status == 304:
        obj.say(f"  {o.name}: not modified since last fetch")
    else:
        note = f" (malformed feed, kept what parsed: {o.bozo})" if o.bozo else ""
        obj.say(f"  {o.name}: {o.entries} entries, {o.counts.new} new, {o.counts.updated} updated{note}")


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Re-classify every post, not only new and edited ones.")
@click.pass_obj
def classify(obj: Ctx, everything: bool) -> None:
    """Tag posts with sentiment (VADER), the products they mention, and language."""
    _classify(obj, everything)


def _classify(obj: Ctx, everything: bool) -> pipeline.ClassifyReport:
    settings = obj.settings()
    db = obj.db()
    with obj.progress() as progress:
        task = progress.add_task("Classifying", total=store.count_to_classify(db, everything=everything))
        report = pipeline.classify(db, settings, everything=everything, now=obj.now,
                                   on_batch=lambda n: progress.advance(task, n))
    labels = ", ".join(f"{report.labels.get(k, 0)} {k}" for k in ("positive", "neutral", "negative"))
    obj.say(f"Classified {report.classified} post(s): {labels}; {report.mentions} product mention(s).")
    return report


@cli.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Last day of the digest (default: yesterday, UTC).")
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, 366),
              help="Length of the period in days, ending on --date.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder (default: digest.output_dir).")
@click.pass_obj
def digest(obj: Ctx, day: str | None, days: int, out_dir: str | None) -> None:
    """Write the digest (Markdown and HTML) for a day or a period and print their paths."""
    try:
        the_day = parse_day(day) if day else pipeline.yesterday(obj.now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--date")
    _digest(obj, the_day, days, Path(out_dir) if out_dir else None)


def _digest(obj: Ctx, day: date, days: int, out_dir: Path | None):
    settings = obj.settings()
    d, paths = pipeline.digest(obj.db(), settings, day=day, days=days, now=obj.now, out_dir=out_dir)
    for p in paths:
        click.echo(str(p))
    return d, paths


@cli.command()
@click.option("--once", is_flag=True, help="Run one cycle and exit (required; 'listener daemon' runs on a schedule).")
@click.pass_obj
def run(obj: Ctx, once: bool) -> None:
    """Run one full cycle: collect every source, classify, write yesterday's digest.

    Exits with code 1 if any source failed (the cycle still completes).
    """
    if not once:
        raise click.UsageError("use 'listener run --once' for one cycle, or 'listener daemon' to run on a schedule")
    report = _collect(obj, ())
    _classify(obj, False)
    _digest(obj, pipeline.yesterday(obj.now), 1, None)
    if report.failed:
        sys.exit(1)


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
    from listener.daemon import DaemonError, run_daemon

    try:
        code = run_daemon(obj.settings(), log_level=log_level)
    except DaemonError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    sys.exit(code)


@cli.command()
@click.pass_obj
def status(obj: Ctx) -> None:
    """Per source: state, last success, last error, next run, posts in 24 h, backoff; daemon; last digest.

    Exit code 1 if any source is failing (for health checks), else 0.
    """
    from listener.health import status as health_status

    st = health_status(obj.db(), obj.settings(), now=obj.now)
    table = Table(show_lines=False)
    for col in ("source", "state", "last success (UTC)", "next run (UTC)", "posts 24h", "backoff", "last error"):
        table.add_column(col, overflow="fold")
    for h in st.sources:
        table.add_row(h.name, h.state, h.last_success or "never", h.next_run or "-", str(h.posts_24h),
                      h.backoff, h.last_error or h.note)
    Console(width=200 if not sys.stdout.isatty() else None, soft_wrap=False).print(table)
    click.echo(f"Daemon: {st.daemon}")
    click.echo(f"Last digest: {st.last_digest or 'none yet'}")
    if not st.healthy:
        click.echo(f"Failing: {', '.join(st.failing)}", err=True)
        sys.exit(1)


@cli.command()
@click.option("--days", type=click.IntRange(0), metavar="N",
              help="Keep posts published in the last N days (default: schedule.retention_days; 0 keeps all).")
@click.pass_obj
def purge(obj: Ctx, days: int | None) -> None:
    """Delete posts older than the retention period, with their mentions and search entries."""
    report = pipeline.purge(obj.db(), obj.settings(), now=obj.now, days=days)
    if report.before is None:
        obj.say("Retention is off (keep forever): nothing deleted.")
    else:
        obj.say(f"Deleted {report.deleted} post(s) published before {report.before}.")


@cli.command("sources")
@click.pass_obj
def sources_cmd(obj: Ctx) -> None:
    """List sources with their last fetch, status, error and number of posts."""
    settings = obj.settings()
    rows = store.sources_table(obj.db())
    configured = {s.name for s in settings.sources}
    table = Table(show_lines=False)
    for col in ("name", "type", "last fetch (UTC)", "status", "posts", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        name = r["name"] if r["name"] in configured else f"{r['name']} (not in settings)"
        status = "-" if r["last_status"] is None and not r["last_error"] else \
            ("error" if r["last_error"] else str(r["last_status"]))
        table.add_row(name, r["type"], r["last_fetch_at"] or "never", status, str(r["posts"]),
                      r["last_error"] or (f"malformed but usable: {r['bozo']}" if r["bozo"] else ""))
    Console(width=160 if not sys.stdout.isatty() else None, soft_wrap=False).print(table)


@cli.command()
@click.option("--dir", "work_dir", default="listener-demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo's settings, database and digest.")
@click.pass_obj
def demo(obj: Ctx, work_dir: str) -> None:
    """Run one full cycle against bundled real feeds served on 127.0.0.1; print the digest path."""
    from listener.demo import run_demo

    result = run_demo(Path(work_dir), now=obj.now, quiet=obj.quiet)
    table = Table(title=result.digest.title)
    for col in ("product", "side", "mentions", "share of voice", "net sentiment", "+ / = / -"):
        table.add_column(col, justify="left" if col in ("product", "side") else "right")
    for p in result.digest.products:
        table.add_row(p.name, "ours" if p.ours else "competitor", str(p.mentions),
                      f"{p.share_of_voice * 100:.1f}%" if p.share_of_voice is not None else "n/a",
                      f"{p.net_sentiment:+.0f}" if p.net_sentiment is not None else "n/a",
                      f"{p.positive} / {p.neutral} / {p.negative}")
    if not obj.quiet:
        Console(width=160 if not sys.stdout.isatty() else None).print(table)
        click.echo(f"Stored {result.posts} posts from {result.sources} bundled feeds in {result.db_path}")
        click.echo(f"Settings used: {result.settings_path}")
    click.echo(f"Digest: {result.paths[0]}")
    click.echo(f"Markdown: {result.paths[1]}")


def main() -> None:  # pragma: no cover - console entry point
    cli()
