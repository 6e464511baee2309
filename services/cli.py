"""The ``harness`` command line. It reaches the services only through the composition
root, ``services/bootstrap.py``."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from harness import open_mode
from harness.config import get_settings
from harness.logging import configure_logging, wants_json
from harness.net import free_port

app = typer.Typer(help="harness: prompt registry, datasets, evaluation runs.",
                  no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="API keys (stored hashed).", no_args_is_help=True)
projections_app = typer.Typer(help="Read models.", no_args_is_help=True)
prompts_app = typer.Typer(help="Prompts as YAML files (keep them in git, sync from CI).",
                          no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")
promotions_app = typer.Typer(help="Governed promotion: propose, review, approve.",
                             no_args_is_help=True)
app.add_typer(promotions_app, name="promotions")
app.add_typer(keys_app, name="keys")
app.add_typer(projections_app, name="projections")

console = Console()
err = Console(stderr=True)


def describe_database() -> str:
    """Which database commands use, for people: DATABASE_URL (without its password) or
    the embedded one's folder."""
    from urllib.parse import urlsplit

    s = get_settings()
    if s.database_url:
        u = urlsplit(s.database_url)
        where = f"{u.hostname or 'localhost'}{f':{u.port}' if u.port else ''}{u.path}"
        return f"DATABASE_URL ({u.scheme}://{where})"
    return f"embedded PostgreSQL in {s.pgdata_dir}"


def _legacy_hint(pgdata: Path) -> str:
    """Older versions kept the embedded database in the current folder's .harness."""
    legacy = Path(".harness") / "pgdata"
    if (legacy / "PG_VERSION").exists() and legacy.resolve() != pgdata.resolve():
        return (f"\n{legacy.resolve()} holds a database from an older harness (kept in the "
                "clone): HARNESS_HOME=.harness uses it")
    return ""


def database_url(*, existing: bool = False, announce: bool = True) -> str:
    """The database a command works on. ``existing``: a command that only reads (or needs
    data already there) refuses to create an empty embedded database (exit 2).
    ``announce``: say which database on stderr."""
    from harness.db import resolve_database_url

    s = get_settings()
    if not s.database_url and existing and not (s.pgdata_dir / "PG_VERSION").exists():
        err.print(f"[red]no harness database in {escape(str(s.pgdata_dir))}[/red]: nothing "
                  "to read, and this command does not create an empty one. Start one with "
                  "`harness up` (or `make demo`), set HARNESS_HOME to the folder that holds "
                  "yours, set DATABASE_URL, or pass --url of a running registry."
                  + escape(_legacy_hint(s.pgdata_dir)), soft_wrap=True)
        raise typer.Exit(2)
    if announce:
        err.print(escape(f"database: {describe_database()}" + (
            "" if s.database_url else _legacy_hint(s.pgdata_dir))), soft_wrap=True)
    return resolve_database_url(s.database_url, s.pgdata_dir)


async def _prepare(url: str) -> tuple[int, bool]:
    """Migrate; return how many active API keys exist and whether any ever did."""
    from services.bootstrap import prepare_database

    return await prepare_database(url)


class ServerThread:
    """uvicorn in a background thread (for demo and eval commands)."""

    def __init__(self, app, host: str, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://{host}:{port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the registry did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="bind address")] = None,  # type: ignore[assignment]
    port: Annotated[int, typer.Option(help="port")] = None,  # type: ignore[assignment]
    insecure: Annotated[bool, typer.Option(help="allow a non-loopback bind without keys")] = False,
    studio_port: Annotated[int, typer.Option(help="the studio's port")] = None,  # type: ignore[assignment]
    no_studio: Annotated[bool, typer.Option("--no-studio", help="do not start the studio")]
    = False,
    workers: Annotated[int | None, typer.Option(
        help="runner processes for runs of several shards (default: HARNESS_RUNNER_WORKERS, "
             "else one per core)")] = None,
) -> None:
    """Start the registry, the outbox relay, the runner and the OpenAI-compatible gateway
    (under /v1) on embedded defaults, and the studio (a web UI) beside them; prints the
    URLs."""
    import uvicorn

    from services.bootstrap import default_workers, local_app, stop_studio

    s = get_settings()
    host = host or s.host
    port = port or s.port
    configure_logging(s.log_level, wants_json(s.log_format, s.log_json))
    url = database_url(announce=False)  # the banner below says it
    active, closed = asyncio.run(_prepare(url))
    refused = open_mode.refusal(host, protected=closed or bool(s.bootstrap_key_sha256),
                                insecure=insecure or s.insecure)
    if refused:
        print(refused, file=sys.stderr)  # one line, as `python -m services.<name>` says it
        raise typer.Exit(2)
    if not closed:
        console.print("[yellow]no API keys: running open (local mode); "
                      "callers may name themselves with X-Actor[/yellow]")
    elif active == 0:
        console.print("[yellow]every API key is revoked: the server stays closed; create "
                      "one with `harness keys create`[/yellow]")
    where = describe_database() + ("" if s.database_url else _legacy_hint(s.pgdata_dir))
    # one address per line, never broken by rich: an 80-column terminal keeps each
    # label and its URL together, and a URL stays one clickable word
    for line in (f"[bold]harness registry[/bold] on http://{host}:{port}",
                 f"  API docs: http://{host}:{port}/docs",
                 f"  database: {where}",
                 f"[bold]OpenAI-compatible gateway[/bold] at http://{host}:{port}/v1",
                 "  (keys: POST /gateway/keys; PII policy by default: mask)"):
        console.print(line, soft_wrap=True)
    studio = None if no_studio else _start_studio(host, studio_port or s.studio_port, port)
    try:
        uvicorn.run(local_app(url, workers=workers or default_workers()), host=host,
                    port=port, log_level=s.log_level.lower())
    finally:
        stop_studio(studio)


def _start_studio(host: str, studio_port: int, registry_port: int):
    """The studio as a child process pointed at this registry; a hint instead when it
    cannot start (extra not installed, port taken) — the registry starts anyway."""
    from services.bootstrap import exit_on_sigterm, start_studio

    try:
        proc, studio_url = start_studio(host, studio_port, registry_port)
    except RuntimeError as exc:
        console.print(f"[yellow]studio not started: {escape(str(exc))}[/yellow]")
        return None
    console.print(f"[bold]studio[/bold] on {studio_url}")
    exit_on_sigterm()  # so `up`'s finally stops the studio with the registry
    return proc


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who owns the key (recorded as the actor)")],
    role: Annotated[str, typer.Option(help="metrics | viewer | editor | approver | admin")]
    = "editor",
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from harness import apikeys
    from harness.db import create_pool

    async def run() -> str:
        url = database_url()
        await _prepare(url)
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            return await apikeys.create_key(pool, name, role)
        finally:
            await pool.close()

    try:
        key = asyncio.run(run())
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"created {role} key for {name} (shown once):")
    print(key)
    err.print("From now on the registry requires a key from every caller. Use this one with:\n"
              f"  export HARNESS_API_KEY={key}   (the CLI and `harness demo` read it; start "
              "`harness up` with it set and the studio uses it)\n"
              "  or paste it into the studio's sidebar (kept for that browser session only)",
              soft_wrap=True, highlight=False)


def _with_pool(work):
    """Run ``work(pool)`` against the migrated database (an existing one: listing or
    revoking keys never creates an empty database)."""
    from harness.db import create_pool

    url = database_url(existing=True)

    async def run():
        await _prepare(url)
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


def _keys_table(rows: list[dict], title: str, columns: list[str]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for c in ["id", "name", *columns, "prefix", "created (UTC)", "status"]:
        table.add_column(c, overflow="fold", no_wrap=c in ("id", "status"))
    for r in rows:  # the id's first 8 characters are enough for `harness keys revoke`
        table.add_row(str(r["id"])[:8], escape(r["name"]), *[escape(str(r[c])) for c in columns],
                      r["prefix"] + "…", f"{r['created_at']:%Y-%m-%d %H:%M}",
                      f"revoked {r['revoked_at']:%Y-%m-%d}" if r["revoked_at"] else "active")
    console.print(table)


@keys_app.command("list")
def keys_list(
    gateway: Annotated[bool, typer.Option("--gateway", help="gateway keys (/v1) instead of "
                                                           "API keys")] = False,
) -> None:
    """List keys (never their secrets): id, name, role or scope, prefix, status."""
    if gateway:
        from services.bootstrap import list_gateway_keys

        rows = _with_pool(list_gateway_keys)
        for r in rows:
            r["scope"] = ", ".join([*(f"app/{a}" for a in r["applications"] or []),
                                    *(r["models"] or [])]) or "everything"
        _keys_table(rows, "gateway keys", ["scope"])
        return
    from harness import apikeys

    _keys_table(_with_pool(apikeys.list_keys), "API keys", ["role"])


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="the key's id (or its first 8+ characters) or "
                                            "its prefix (hk_xxxx, hgw_xxxx)")],
    gateway: Annotated[bool, typer.Option("--gateway", help="a gateway key (/v1)")] = False,
) -> None:
    """Revoke a key: running servers refuse it at once. Revoking the last API key does
    not reopen the server: it stays closed until a key is created."""
    if gateway:
        from services.bootstrap import revoke_gateway_keys as revoke
    else:
        from harness.apikeys import revoke_key as revoke
    try:
        gone = _with_pool(lambda pool: revoke(pool, key))
    except ValueError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    if not gone:
        err.print(f"[red]no active {'gateway ' if gateway else ''}key matches "
                  f"{escape(key)}[/red] (see `harness keys list"
                  f"{' --gateway' if gateway else ''}`)")
        raise typer.Exit(1)
    for r in gone:
        console.print(f"revoked {r['name']} ({r['id']})")


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """Drop the read models and replay every event into them."""
    from services.bootstrap import rebuild_read_models

    url = database_url(existing=True)

    async def run() -> tuple[int, int]:
        await _prepare(url)
        return await rebuild_read_models(url)

    started = time.perf_counter()
    n, tables = asyncio.run(run())
    console.print(f"replayed {n} events into {tables} read models "
                  f"in {time.perf_counter() - started:.2f}s")


@app.command()
def demo(
    url: Annotated[str | None, typer.Option(help="use a running registry (default: start one)")]
    = None,
) -> None:
    """Walk through the registry: a prompt with two versions, an application, activate,
    roll back, and the history."""
    from harness.demo import run_demo

    s = get_settings()
    configure_logging("WARNING", wants_json(s.log_format, s.log_json))
    url = url or s.url
    if url:
        run_demo(url, console, s.api_key)
        return
    from services.bootstrap import registry_app

    db = database_url()
    asyncio.run(_prepare(db))
    with ServerThread(registry_app(db, local_stack=True), "127.0.0.1",
                      free_port("127.0.0.1")) as server:
        console.print(f"registry started at {server.url} (embedded defaults)")
        run_demo(server.url, console, s.api_key)


@app.command("run")
def run_command(
    dataset: Annotated[str, typer.Option(help="dataset name (or id)")],
    app_name: Annotated[list[str], typer.Option("--app", help="application name; repeatable")]
    = [],  # noqa: B006
    prompt: Annotated[list[str], typer.Option(help="prompt NAME or NAME@VERSION; repeatable")]
    = [],  # noqa: B006
    model: Annotated[list[str], typer.Option(help="model(s) for --prompt targets; repeatable")]
    = [],  # noqa: B006
    min_pass_rate: Annotated[float | None, typer.Option(
        help="fail (exit 1) when fewer cases pass; default: every case must pass")] = None,
    case_threshold: Annotated[float, typer.Option(
        help="a case passes when this share of its repeats pass")] = 1.0,
    repeat: Annotated[int, typer.Option(help="run each case N times")] = 1,
    concurrency: Annotated[int, typer.Option(help="model calls in flight")] = 4,
    metric: Annotated[list[str], typer.Option(
        help="scorer metric (faithfulness, bleu, ...); repeatable; default: the dataset's "
             "default_metrics")] = [],  # noqa: B006
    judge_model: Annotated[str | None, typer.Option(
        help="judge of llm-rubric and the judge metrics (default HARNESS_JUDGE_MODEL)")] = None,
    url: Annotated[str | None, typer.Option(help="registry URL (default HARNESS_URL, or "
                                                 "start one on embedded defaults)")] = None,
    workers: Annotated[int | None, typer.Option(
        help="runner processes when no registry URL is given (default: "
             "HARNESS_RUNNER_WORKERS, else one per core)")] = None,
) -> None:
    """Run a dataset against applications or prompt versions; exit 1 below the threshold,
    so CI can gate a prompt change. With metrics, waits for the scores and prints them."""
    from harness.cli_run import RunCommandError, run_and_follow

    s = get_settings()
    configure_logging("WARNING", wants_json(s.log_format, s.log_json))
    url = url or s.url

    def go(client) -> int:
        return run_and_follow(client, console, dataset=dataset, apps=app_name,
                              prompts=prompt, models=model, min_pass_rate=min_pass_rate,
                              case_threshold=case_threshold, repeat=repeat,
                              concurrency=concurrency, metrics=metric or None,
                              judge_model=judge_model)

    try:
        # a run needs the runner too, and a dataset already there
        code = _with_registry(url, go, local_stack=True, existing=True, workers=workers)
    except RunCommandError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@app.command("eval")
def eval_cmd(
    config: Annotated[Path, typer.Option("-c", "--config", help="promptfooconfig.yaml")]
    = Path("promptfooconfig.yaml"),
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="results file: .json (promptfoo's "
                                                     "format), .csv or .yaml")] = None,
    concurrency: Annotated[int | None, typer.Option("-j", "--max-concurrency")] = None,
    repeat: Annotated[int | None, typer.Option(help="run each test N times")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="bypass the response cache")]
    = False,
    record: Annotated[bool, typer.Option(help="also record prompts, dataset and run in the "
                                              "registry (default when HARNESS_URL is set)")]
    = False,
    engine: Annotated[str, typer.Option(help="harness | promptfoo (the real promptfoo CLI, "
                                             "Node.js ≥ 22)")] = "harness",
    url: Annotated[str | None, typer.Option(help="registry URL for --record")] = None,
    workers: Annotated[int | None, typer.Option(
        help="processes the evaluations are split over (default: HARNESS_RUNNER_WORKERS, "
             "else one per core; an eval of under 100 per process uses fewer)")] = None,
    no_table: Annotated[bool, typer.Option("--no-table", help="do not print the results "
                                                              "table (as promptfoo)")] = False,
) -> None:
    """Run a promptfoo config; exit 100 when any test fails (as promptfoo does)."""
    from harness.promptfoo import eval_command

    s = get_settings()
    configure_logging("WARNING", wants_json(s.log_format, s.log_json))
    url = url or s.url
    record = record or bool(url)
    if engine not in ("harness", "promptfoo"):
        err.print("[red]--engine must be harness or promptfoo[/red]")
        raise typer.Exit(2)

    def store(plan, outcome) -> None:
        _record_eval(plan, outcome, url)

    if engine == "promptfoo":
        raise typer.Exit(_eval_with_promptfoo(config, output, no_cache, record, url))
    from services.bootstrap import default_workers

    code = eval_command(config, output, concurrency=concurrency, repeat=repeat,
                        no_cache=no_cache, console=console,
                        on_finished=store if record else None,
                        workers=workers or default_workers(), table=not no_table)
    raise typer.Exit(code)


def _with_registry(url: str | None, work, *, local_stack: bool = False,
                   actor: str | None = None, existing: bool = False,
                   workers: int | None = None):
    """Call ``work(client)`` against ``url``, or against a registry (with the runner when
    ``local_stack``) started on embedded defaults for the duration of the call
    (``existing``: only on a database that is already there, see :func:`database_url`).
    ``actor``: who acts, for a registry in open local mode (``X-Actor``); with a key the
    key's name is the actor."""
    from harness.registry_http import auth_headers

    s = get_settings()
    headers = auth_headers(s.api_key)
    if actor:
        if s.api_key:
            err.print("[yellow]--actor is for open local mode: with an API key the key's "
                      "name is recorded as the actor[/yellow]")
        headers["X-Actor"] = actor
    if url:
        with httpx_client(url, headers) as client:
            return work(client)
    from services.bootstrap import default_workers, registry_app

    db = database_url(existing=existing)
    asyncio.run(_prepare(db))
    app = registry_app(db, local_stack=local_stack,
                       workers=(workers or default_workers()) if local_stack else 1)
    with ServerThread(app, "127.0.0.1",
                      free_port("127.0.0.1")) as server, \
            httpx_client(server.url, headers) as client:
        return work(client)


def _record_eval(plan, outcome, url: str | None) -> None:
    from harness.promptfoo.record import record

    name = plan.description or plan.config_path.parent.name or "promptfoo eval"
    targets = []
    for i, t in enumerate(plan.targets):
        spec = plan.prompt_of(i)
        explicit = spec.label and spec.label != spec.raw and len(spec.label) <= 120
        index = plan.target_pairs[i][0] + 1
        targets.append(t.model_copy(update={
            "prompt_name": spec.label if explicit else f"{name} · prompt {index}"}))
    run = _with_registry(url, lambda client: record(
        client, name=name, targets=targets, cases=plan.cases, results=outcome.results,
        repeat=outcome.repeat, source="harness-eval", description=str(plan.config_path)))
    console.print(f"recorded as run [bold]{run['id']}[/bold] on dataset "
                  f"{run['dataset_name']!r}")


def _eval_with_promptfoo(config: Path, output: Path | None, no_cache: bool, record: bool,
                         url: str | None) -> int:
    import json

    from harness.promptfoo import PromptfooRunError, PromptfooUnavailable, engine_promptfoo
    from harness.promptfoo.output import from_promptfoo_json
    from harness.promptfoo.record import record as record_run

    try:
        path = engine_promptfoo(config, output, no_cache=no_cache,
                                progress=lambda message: console.print(f"[dim]{message}[/dim]"))
    except (PromptfooUnavailable, PromptfooRunError) as exc:
        err.print(f"[red]{exc}[/red]")
        return 1
    data = json.loads(path.read_text())
    targets, cases, results = from_promptfoo_json(data)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("pass", "fail", "error")}
    console.print(f"promptfoo: {counts['pass']} passed, {counts['fail']} failed, "
                  f"{counts['error']} errors · results: {path}")
    if record:
        run = _with_registry(url, lambda client: record_run(
            client, name=f"promptfoo: {config.parent.name or config.stem}", targets=targets,
            cases=cases, results=results, source="promptfoo", description=str(config)))
        console.print(f"recorded as run [bold]{run['id']}[/bold]")
    failed = any(r.status != "pass" for r in results)
    return 100 if failed else 0


@prompts_app.command("export")
def prompts_export(
    folder: Annotated[Path, typer.Argument(help="where to write one YAML file per prompt")],
    environment: Annotated[str | None, typer.Option(
        help="export the version this environment points at (default: the active one)")]
    = None,
    url: Annotated[str | None, typer.Option(help="registry URL (default HARNESS_URL)")] = None,
) -> None:
    """Write every prompt's active version (or an environment's) to FOLDER; `sync` of an
    untouched export changes nothing."""
    from harness.prompt_files import PromptFileError, export_prompts

    try:
        paths = _with_registry(url or get_settings().url,
                               lambda c: export_prompts(c, folder, environment), existing=True)
    except PromptFileError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"wrote {len(paths)} prompt file(s) to {folder}")


@prompts_app.command("sync")
def prompts_sync(
    folder: Annotated[Path, typer.Argument(help="a folder of prompt YAML files")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the diffs, write nothing")]
    = False,
    url: Annotated[str | None, typer.Option(help="registry URL (default HARNESS_URL)")] = None,
) -> None:
    """Create missing prompts and add a version where a file's content changed."""
    from rich.syntax import Syntax

    from harness.prompt_files import PromptFileError, sync_prompts

    try:
        changes = _with_registry(url or get_settings().url,
                                 lambda c: sync_prompts(c, folder, dry_run=dry_run))
    except PromptFileError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    for ch in changes:
        what = {"create": "create", "new-version": f"new version v{ch.version}",
                "unchanged": "unchanged"}[ch.action]
        console.print(f"[bold]{ch.name}[/bold] ({ch.file.name}): {what}"
                      + (" (dry run)" if dry_run and ch.action != "unchanged" else "")
                      + (f" — {ch.note}" if ch.note else ""))
        if ch.diff:
            console.print(Syntax(ch.diff, "diff", theme="ansi_dark", word_wrap=True))


def _prompt_id(client, name: str) -> str:
    for p in client.get("/prompts", params={"q": name, "limit": 500}).json()["items"]:
        if p["name"].lower() == name.lower() or p["id"] == name:
            return p["id"]
    raise typer.BadParameter(f"no prompt named {name!r}")


def _show_promotion(p: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    what = f"v{p['version']}"
    if p.get("split"):
        what = "split " + " · ".join(f"v{v['version']} {v['weight']:g}"
                                     for v in p["split"]["variants"]) \
            + f" by {p['split']['sticky_by']}"
    console.print(f"[bold]{p['id']}[/bold]  {what} → {p['environment']} "
                  f"(now v{p.get('current_version')})  [bold]{p['status']}[/bold]  "
                  f"proposed by {p['proposed_by']}: {p['reason'] or '—'}; expires "
                  f"{str(p['expires_at'])[:19]}")
    gate = p.get("gate")
    if not gate:
        console.print("  gate: none recorded" + (f" (gate run {p['gate_run_id']} pending)"
                                                 if p.get("gate_run_id") else ""))
        return
    verdict = "[green]passed[/green]" if gate["passed"] else "[red]refused[/red]"
    rate = gate.get("pass_rate")
    console.print(f"  gate {verdict}: pass rate "
                  f"{'—' if rate is None else f'{rate:.1%}'} (needs "
                  f"{gate['min_pass_rate']:.0%}), run {gate.get('run_id', '—')}")
    for reason in gate.get("reasons", []):
        console.print(f"  • {reason}")
    if gate.get("regressed"):
        table = Table(title="regressed cases", title_justify="left")
        table.add_column("input", overflow="fold", ratio=1)
        table.add_column("case", no_wrap=True)
        for r in gate["regressed"]:
            table.add_row(escape(str(r["input"])), r["case_id"])
        console.print(table)


# Who acts, in open local mode (no keys: everyone is "local" unless named).
ActorOption = Annotated[str | None, typer.Option(
    help="your name, recorded as the actor (open local mode, where everyone is 'local'; "
         "with an API key the key's name is used)")]


@promotions_app.command("list")
def promotions_list(
    status: Annotated[str, typer.Option(help="pending | applied | rejected | ...")] = "pending",
    url: Annotated[str | None, typer.Option(help="registry URL (default HARNESS_URL)")] = None,
) -> None:
    """Proposals across prompts (default: those waiting for an approver)."""

    def work(c):
        items = c.get("/promotions", params={"status": status}).json()["items"]
        if not items:
            console.print(f"no {status} promotions")
        for m in items:
            full = c.get(f"/prompts/{m['prompt_id']}/promotions/{m['id']}").json()
            console.print(f"[cyan]{m['prompt_name']}[/cyan]")
            _show_promotion(full)

    _with_registry(url or get_settings().url, work, existing=True)


def _parse_split(text: str) -> list[dict]:
    """``3:90,4:10`` -> ``[{"version": 3, "weight": 90}, {"version": 4, "weight": 10}]``."""
    variants = []
    for part in text.split(","):
        version, sep, weight = part.strip().partition(":")
        try:
            if not sep:
                raise ValueError
            variants.append({"version": int(version), "weight": float(weight)})
        except ValueError:
            raise typer.BadParameter(f"{part.strip()!r}: VERSION:WEIGHT, e.g. 3:90,4:10",
                                     param_hint="--split") from None
    return variants


@promotions_app.command("propose")
def promotions_propose(
    prompt: Annotated[str, typer.Argument(help="prompt name or id")],
    version: Annotated[int | None, typer.Option(help="the version to promote")] = None,
    split: Annotated[str | None, typer.Option(
        help="weighted rollout instead of a version: VERSION:WEIGHT,... e.g. 3:90,4:10")]
    = None,
    sticky_by: Annotated[str, typer.Option(
        help="with --split: where a request's key comes from (user, metadata.<field>, "
             "header:<name>)")] = "user",
    environment: Annotated[str, typer.Option(help="target environment")] = "production",
    reason: Annotated[str, typer.Option(help="why")] = "",
    gate_model: Annotated[str | None, typer.Option(help="request the gate run on this model")]
    = None,
    run_gate: Annotated[bool, typer.Option(
        help="request the gate run, each version on its config's model")] = False,
    actor: ActorOption = None,
    url: Annotated[str | None, typer.Option(help="registry URL (default HARNESS_URL)")] = None,
) -> None:
    """Propose VERSION for ENVIRONMENT, or a --split of it between versions (with
    --gate-model or --run-gate: run the policy's gate now)."""
    if (version is None) == (split is None):
        raise typer.BadParameter("give --version or --split", param_hint="--version")
    body: dict = {"environment": environment, "reason": reason}
    if split is not None:
        body["split"] = {"variants": _parse_split(split), "sticky_by": sticky_by}
    else:
        body["version"] = version

    def work(c):
        if gate_model or run_gate:
            body["run_gate"] = {"model": gate_model} if gate_model else {}
        r = c.post(f"/prompts/{_prompt_id(c, prompt)}/promotions", json=body)
        if r.status_code >= 400:
            err.print(f"[red]{r.json().get('detail')}[/red]")
            raise typer.Exit(1)
        _show_promotion(r.json())

    _with_registry(url or get_settings().url, work, actor=actor, existing=True)


@promotions_app.command("approve")
def promotions_approve(
    prompt: Annotated[str, typer.Argument(help="prompt name or id")],
    promotion: Annotated[str, typer.Argument(help="promotion id")],
    comment: Annotated[str, typer.Option(help="review comment")] = "",
    reject: Annotated[bool, typer.Option("--reject", help="reject instead")] = False,
    actor: ActorOption = None,
    url: Annotated[str | None, typer.Option(help="registry URL (default HARNESS_URL)")] = None,
) -> None:
    """Approve (or --reject) a proposal; the refusal names the policy or the gate."""

    def work(c):
        action = "reject" if reject else "approve"
        r = c.post(f"/prompts/{_prompt_id(c, prompt)}/promotions/{promotion}/{action}",
                   json={"comment": comment})
        if r.status_code >= 400:
            body = r.json()
            err.print(f"[red]{body.get('detail')}[/red]")
            if str(body.get("type", "")).endswith(":self-approval") and not actor:
                err.print("in open local mode everyone is 'local': name yourself with "
                          "--actor NAME")
            if body.get("gate"):
                _show_promotion({"id": promotion, "version": "?", "environment": "?",
                                 "status": "refused", "proposed_by": "?", "reason": "",
                                 "expires_at": "", "gate": body["gate"]})
            raise typer.Exit(1)
        _show_promotion(r.json())

    _with_registry(url or get_settings().url, work, actor=actor, existing=True)


def httpx_client(base: str, headers: dict):
    from harness.registry_http import registry_client

    return registry_client(base, None, headers=headers)


def main() -> None:
    """The ``harness`` console script: the app, with the garbage collector deferred
    while the command loads what it needs (``harness.gc_tuning``)."""
    from harness import gc_tuning

    gc_tuning.defer()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
