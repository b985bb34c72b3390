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
    """Tag posts with sentiment (settings: sentiment.model), products, topics and language."""
    _classify(obj, everything)


def _classify(obj: Ctx, everything: bool) -> pipeline.ClassifyReport:
    from models.trained import ArtifactError

    settings = obj.settings()
    db = obj.db()
    with obj.progress() as progress:
        task = progress.add_task("Classifying", total=store.count_to_classify(db, everything=everything))
        try:
            report = pipeline.classify(db, settings, everything=everything, now=obj.now,
                                       on_batch=lambda n: progress.advance(task, n))
        except ArtifactError as exc:
            _fail(str(exc))
    labels = ", ".join(f"{report.labels.get(k, 0)} {k}" for k in ("positive", "neutral", "negative", "unscored"))
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
@click.option("--once", is_flag=True, help="Run one cycle and exit (required until the daemon lands).")
@click.pass_obj
def run(obj: Ctx, once: bool) -> None:
    """Run one full cycle: collect every source, classify, write yesterday's digest.

    Exits with code 1 if any source failed (the cycle still completes).
    """
    if not once:
        raise click.UsageError("only 'listener run --once' is available; schedule it with cron for now")
    report = _collect(obj, ())
    _classify(obj, False)
    _digest(obj, pipeline.yesterday(obj.now), 1, None)
    if report.failed:
        sys.exit(1)


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


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@cli.command()
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Artifact to write (default: the shipped model file).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True),
              help="Labelled data folder (default: the bundled models/data).")
@click.option("--small", is_flag=True, help="A tiny, fast config (a subset of the data; for tests and trials).")
@click.option("--with-labels", is_flag=True, help="Add your relabels from the database to the training data.")
@click.option("--no-eval", is_flag=True, help="Skip measuring (no cross-validation).")
@click.pass_obj
def train(obj: Ctx, out: str | None, data_dir: str | None, small: bool, with_labels: bool, no_eval: bool) -> None:
    """Train the sentiment model deterministically; print the data checksum, metrics and artifact checksum."""
    from listener import learn
    from models import datasets, trained, training

    config = training.SMALL if small else training.TrainConfig()
    path = Path(out) if out else trained.SHIPPED
    try:
        result = learn.train(config, path, data_dir=Path(data_dir) if data_dir else datasets.DATA_DIR,
                             db=obj.db() if with_labels else None, evaluate=not no_eval)
    except datasets.DataError as exc:
        _fail(str(exc))
    click.echo(f"data: {result.examples} examples, sha256 {result.data_sha256}")
    if result.evaluation:
        for name, value in result.evaluation.figures().items():
            click.echo(f"{name}: {value:.4f} ({_how(result.evaluation, name)})")
    click.echo(f"artifact: {result.path} sha256 {result.artifact_sha256}")


def _how(ev, target: str) -> str:
    """How a target's figure was measured (held out, cross-validated, ...)."""
    return ev.how.get("tweeteval_val" if target.startswith("tweeteval") else target.split("_")[1], "")


@cli.command("eval")
@click.option("--labels", is_flag=True, help="Score the configured model on your own relabels instead.")
@click.option("--recorded", is_flag=True, help="Use the cross-validation figures recorded at training time (fast).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, exists=True), help="Labelled data folder.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
@click.pass_obj
def eval_cmd(obj: Ctx, labels: bool, recorded: bool, data_dir: str | None, json_path: str | None) -> None:
    """Measure VADER and the trained model against every target; each is marked met or not met."""
    import json as jsonlib

    from listener import learn
    from listener.files import write_atomic
    from models import datasets, training
    from models.trained import ArtifactError

    settings = obj.settings()
    console = Console(width=160 if not sys.stdout.isatty() else None)
    if labels:
        ev = learn.evaluate_labels(obj.db(), settings)
        if not ev.n:
            click.echo("No relabelled posts yet (see `listener label`).")
            return
        click.echo(f"model {ev.model} on {ev.n} relabelled post(s): accuracy {ev.accuracy:.3f}, macro-F1 {ev.macro_f1:.3f}")
        table = Table(title="human label (rows) x model label (columns)")
        cols = ("positive", "neutral", "negative")
        table.add_column("human")
        for c in cols:
            table.add_column(c, justify="right")
        for g in cols:
            table.add_row(g, *(str(ev.confusion.get(g, {}).get(c, 0)) for c in cols))
        console.print(table)
        return
    try:
        evals = learn.evaluate_models(settings, data_dir=Path(data_dir) if data_dir else datasets.DATA_DIR,
                                      cv=not recorded)
    except (ArtifactError, datasets.DataError) as exc:
        _fail(str(exc))
    table = Table(title="Sentiment targets")
    for col in ("target", "model", "value", "target value", "status", "how measured"):
        table.add_column(col, justify="right" if col in ("value", "target value") else "left")
    rows = []
    for ev in evals:
        for r in training.target_rows(ev):
            r["how"] = _how(ev, r["target"])
            rows.append(r)
            table.add_row(r["target"], r["model"], "n/a" if r["value"] is None else f"{r['value']:.4f}",
                          f">= {r['threshold']}", "met" if r["met"] else "NOT MET", r["how"])
    console.print(table)
    for ev in evals:
        t = ev.tweeteval_val
        click.echo(f"{ev.model}: TweetEval val macro-recall {t['macro_recall']:.4f}, macro-F1 {t['macro_f1']:.4f}, "
                   f"accuracy {t['accuracy']:.4f}" + "".join(
                       f"; {n} Pearson r {m['pearson_r']:.3f}" for n, m in ev.vader.items() if "pearson_r" in m))
    if json_path:
        write_atomic(Path(json_path), jsonlib.dumps({"targets": rows, "evaluations": [
            {"model": e.model, "tweeteval_val": e.tweeteval_val, "vader": e.vader, "how": e.how} for e in evals]},
            indent=2, sort_keys=True) + "\n")


@cli.command()
@click.argument("file", required=False, type=click.File("r", encoding="utf-8"))
@click.pass_obj
def sentiment(obj: Ctx, file) -> None:
    """Score one text per line of FILE (stdin without FILE); print one JSON line per input."""
    import json as jsonlib

    from listener import learn
    from models.trained import ArtifactError

    try:
        for result in learn.score_lines(file or click.get_text_stream("stdin"), obj.settings()):
            click.echo(jsonlib.dumps(result, ensure_ascii=False))
    except ArtifactError as exc:
        _fail(str(exc))


@cli.command()
@click.argument("post_id", type=int)
@click.option("--top", default=8, show_default=True, type=click.IntRange(1, 50), help="Terms listed per direction.")
@click.pass_obj
def explain(obj: Ctx, post_id: int, top: int) -> None:
    """Show why a post got its label: confidence, pushing terms, matched product alias and topic rule."""
    from listener import learn
    from models.trained import ArtifactError

    try:
        e = learn.explain_post(obj.db(), obj.settings(), post_id, top)
    except ArtifactError as exc:
        _fail(str(exc))
    if e is None:
        _fail(f"no post with id {post_id}", 1)
    click.echo(f"post {e.post_id}: {e.title or '(untitled)'}")
    conf = f", confidence {e.confidence:.2f}" if e.confidence is not None else ""
    score = f"score {e.score:+.3f}" if e.score is not None else "no score"
    click.echo(f"label: {e.label} ({score}{conf}) by {e.model}; language {e.language or 'unknown'}")
    if e.human_label:
        click.echo(f"human relabel: {e.human_label} (overrides the model in reports)")
    for title, terms in (("pushed towards positive", e.positive_terms), ("pushed towards negative", e.negative_terms)):
        click.echo(f"{title}: " + (", ".join(f"{c.feature} ({c.weight:+.3f})" for c in terms) or "none"))
    click.echo("products: " + (", ".join(f"{p} (alias {a!r})" for p, a in e.mentions) or "none"))
    click.echo("topics: " + (", ".join(
        f"{t} (term {term!r}, sentiment {'n/a' if s is None else f'{s:+.2f}'})" for t, term, s in e.topics) or "none"))


@cli.command()
@click.argument("post_id", type=int)
@click.option("--sentiment", "sentiment_", type=click.Choice(["positive", "neutral", "negative"]),
              help="The correct sentiment label.")
@click.option("--topics", metavar="NAMES", help="The correct topics, comma-separated ('' for none).")
@click.pass_obj
def label(obj: Ctx, post_id: int, sentiment_: str | None, topics: str | None) -> None:
    """Correct a post's sentiment and/or topics; the correction overrides the model and is training data."""
    from listener import learn

    if sentiment_ is None and topics is None:
        raise click.UsageError("give --sentiment and/or --topics")
    names = [t.strip() for t in topics.split(",") if t.strip()] if topics is not None else None
    try:
        learn.label_post(obj.db(), obj.settings(), post_id, now=obj.now, sentiment=sentiment_, topics=names)
    except LookupError as exc:
        _fail(str(exc.args[0]), 1)
    except ValueError as exc:
        _fail(str(exc))
    obj.say(f"Post {post_id} relabelled" + (f": sentiment {sentiment_}" if sentiment_ else "")
            + (f"; topics {', '.join(names) or 'none'}" if names is not None else "") + ".")


@cli.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Last day of the period (default: yesterday, UTC).")
@click.pass_obj
def emerging(obj: Ctx, day: str | None) -> None:
    """Cluster the period's posts per product, name clusters by distinguishing terms, store them."""
    try:
        the_day = parse_day(day) if day else pipeline.yesterday(obj.now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--date")
    report = pipeline.emerging(obj.db(), obj.settings(), day=the_day, now=obj.now)
    for product, clusters in report.clusters.items():
        for c in clusters:
            click.echo(f"{'all posts' if product == '*' else product}: {', '.join(c.terms)} ({c.size} posts"
                       f"{', new' if c.is_new else ''})")
    total = sum(len(c) for c in report.clusters.values())
    obj.say(f"Stored {total} cluster(s) for {report.start.isoformat()} to {report.end.isoformat()}.")


def main() -> None:  # pragma: no cover - console entry point
    cli()
