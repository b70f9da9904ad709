"""Command line: arguments and exit codes, nothing else.  0 clean, 1 findings, 2 usage, configuration or parse errors."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from . import __version__, api
from .config import ConfigError, available_packs, load_settings
from .report import EMITTERS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _common(func):
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="pyproject.toml to read [tool.sentinel-lint] from (default: nearest one above PATH)."),
        click.option("--rule-pack", help=f"Set the conventions explicitly from a pack: {', '.join(available_packs())}."),
        click.option("--sentinel", "sentinel", metavar="[NAME=]VALUE",
                     help="Set the padding value of block tables and state indices explicitly, e.g. NULL_BLOCK_ID=0."),
        click.option("--no-infer", is_flag=True, help="Do not read conventions from the code that writes the padding."),
        click.option("--select", help="Comma-separated rule codes to run."),
        click.option("--ignore", help="Comma-separated rule codes to skip."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: number of cores)."),
        click.option("--no-cache", is_flag=True, help="Do not read or write the cache."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Cache directory (default: per user, outside the project; see docs/cache.md)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(paths, config_file, rule_pack, sentinel, no_infer, select, ignore):
    overrides: dict = {}
    if rule_pack:
        overrides["rule-pack"] = rule_pack
    if no_infer:
        overrides["infer"] = False
    if select:
        overrides["select"] = [c.strip() for c in select.split(",") if c.strip()]
    if ignore:
        overrides["ignore"] = [c.strip() for c in ignore.split(",") if c.strip()]
    if sentinel:
        name, _, value = sentinel.rpartition("=")
        try:
            overrides["sentinel"] = {"name": name, "value": int(value)} if name else {"value": int(value)}
        except ValueError:
            raise ConfigError(f"--sentinel expects [NAME=]INTEGER, got {sentinel!r}") from None
    return load_settings(paths, config_file=config_file, overrides=overrides)


def _prepare(options: dict):
    """The shared options → (paths, settings, run keyword arguments); a bad option raises (exit 2)."""
    paths = list(options.pop("paths")) or [Path(".")]
    for path in paths:
        if not os.path.lexists(path):
            raise click.UsageError(f"path does not exist: {path}")
    settings = _settings(paths, *(options.pop(k) for k in ("config_file", "rule_pack", "sentinel", "no_infer",
                                                            "select", "ignore")))
    no_cache, cache_dir = options.pop("no_cache"), options.pop("cache_dir")
    if no_cache:
        cache_dir = None
    elif cache_dir is None:
        from .cache import default_cache_dir

        cache_dir = default_cache_dir(settings.root)
    return paths, settings, {"jobs": options.pop("jobs"), "cache_dir": cache_dir}


class _Progress:
    """A progress bar on a terminal; nothing when piped or in CI."""

    def __init__(self, enabled: bool, label: str):
        self.enabled = enabled
        self.label = label
        self.bar = None

    def start(self, total: int) -> None:
        if self.enabled and total > 0:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _progress(label: str, quiet: bool) -> _Progress:
    enabled = sys.stderr.isatty() and not os.environ.get("CI") and not quiet
    return _Progress(enabled, label)


class _Group(click.Group):
    """No traceback reaches the user: an unexpected exception is one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except ConfigError as exc:
            click.echo(f"sentinel-lint: error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            click.echo(f"sentinel-lint: internal error: {type(exc).__name__}: {exc} (please report it)", err=True)
            sys.exit(EXIT_ERROR)


def write_report(path: Path, text: str) -> None:
    """Write a report file, creating its directory; a failure is a clear error (exit 2), not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sentinel-lint")
def main() -> None:
    """Find and fix Triton kernel guards that disagree with how their index tensors are padded."""


@main.command()
@_common
@click.option("--output-format", type=click.Choice(sorted(EMITTERS)), default="text", show_default=True)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print counts per rule instead of each finding.")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
def check(output_format, exit_zero, statistics, quiet, output_file, **options):
    """Report guards that disagree with their tensor's padding convention."""
    paths, settings, run_options = _prepare(options)
    progress = _progress("Checking", quiet or output_format != "text")
    try:
        result = api.check(paths, settings, progress=progress, **run_options)
    finally:
        progress.close()
    if os.environ.get("SENTINEL_LINT_TIMINGS"):  # where a run's time goes, for benchmarks and bug reports
        phases = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in result.stats.phases.items())
        click.echo(f"sentinel-lint: timings: {phases}; total {result.stats.elapsed:.2f}s", err=True)
    color = output_format == "text" and output_file is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    report = EMITTERS[output_format](result, color=color, statistics=statistics, quiet=quiet)
    if output_file is not None:
        write_report(output_file, report)
    else:
        click.echo(report, nl=False)
    sys.exit(_exit_code(result.errors, result.diagnostics and not exit_zero))


def _exit_code(errors, findings) -> int:
    return EXIT_ERROR if errors else EXIT_FINDINGS if findings else EXIT_CLEAN


@main.command()
@_common
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff and write nothing.")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if anything would change.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes marked unsafe.")
@click.option("--allow-read-only", is_flag=True, help="Also rewrite files without write permission bits.")
@click.option("--quiet", "-q", is_flag=True, help="Print only what changed.")
def fix(show_diff, check_only, unsafe_fixes, allow_read_only, quiet, **options):
    """Rewrite wrong guards to the form the convention requires, changing nothing else."""
    from .report import fixes

    started = time.perf_counter()
    paths, settings, run_options = _prepare(options)
    write = not (show_diff or check_only)
    progress = _progress("Scanning", quiet)
    try:
        outcome = api.fix(paths, settings, unsafe=unsafe_fixes, write=write, allow_read_only=allow_read_only,
                          progress=progress, **run_options)
    finally:
        progress.close()
    if show_diff:
        click.echo(fixes.diff(outcome), nl=False)
    elif not quiet:
        click.echo(fixes.applied(outcome, would=check_only), nl=False)
    if not quiet:
        click.echo(fixes.remaining(outcome), nl=False)
    click.echo(fixes.errors(outcome), nl=False, err=True)
    if not quiet:
        click.echo(fixes.summary(outcome, write=write, elapsed=time.perf_counter() - started), nl=False, err=True)
    left = (check_only and outcome.files) or (write and outcome.remaining)
    sys.exit(_exit_code(outcome.analysis.errors + outcome.errors, left))


@main.command()
@_common
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def conventions(output_format, **options):
    """Show the convention that reaches each kernel index parameter, and the chain that proves it."""
    from .report import conventions as report

    paths, settings, run_options = _prepare(options)
    found = api.conventions(paths, settings, **run_options)
    click.echo((report.emit_json if output_format == "json" else report.emit_text)(found), nl=False)


@main.command("rules")
def list_rules():
    """List the rules."""
    from .checks import RULES

    for code, rule in sorted(RULES.items()):
        click.echo(f"{code}  {rule.name:30s} {rule.summary}")


@main.command()
@click.argument("code")
def explain(code):
    """Print one rule's documentation."""
    from .checks import RULES

    rule = RULES.get(code.upper())
    if rule is None:
        click.echo(f"sentinel-lint: error: unknown rule {code!r}; known: {', '.join(sorted(RULES))}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(rule.explain(), nl=False)
