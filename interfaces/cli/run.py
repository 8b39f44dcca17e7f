"""Running Vigil: ``vigil serve`` (the API), ``vigil project`` (the projector on its own),
``vigil rebuild`` (views rebuilt aside and swapped in) and ``vigil status`` (how far each view
is)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Annotated

import typer

from infrastructure.logging import get_logger
from interfaces.cli.common import EXIT_USAGE, fail, load_settings, open_vigil, store_kind
from projections.projector import UnknownView

log = get_logger(__name__)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Run the HTTP API (and the projector, unless a separate `vigil project` runs it)."""
    import gc

    import uvicorn

    from interfaces.http.app import create_app
    from interfaces.http.security import forwarded_header_options

    settings = load_settings()
    with open_vigil(settings) as vigil:
        api = create_app(vigil)
        url = f"http://{host}:{port}"
        log.info(
            "serving",
            url=url,
            docs=f"{url}/docs",
            store=store_kind(settings),
            projector="in-process" if vigil.follows_in_process else "separate worker",
        )
        # What start-up built (modules, schemas, routes, the container) lives as long as the
        # process: set it aside from the garbage collector, so its full collections walk only
        # what requests allocate. Without this a full collection, which a page of a thousand
        # shift-log actions sets off now and then, walked some 300,000 start-up objects and put
        # the shift log's p99 over HTTP at ~100 ms (bench/shift_log.py).
        gc.collect()
        gc.freeze()
        # log_config=None keeps our logging; the app logs each request itself (with its request
        # id and without the client's address), so uvicorn's access log would only repeat it.
        uvicorn.run(
            api,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            **forwarded_header_options(settings.trusted_proxy_list),
        )


def project(
    report_every: Annotated[
        float, typer.Option(help="Seconds between progress log lines.", min=0.1)
    ] = 10.0,
) -> None:
    """Run the projector: catch every view up, then follow new events until SIGINT/SIGTERM."""
    with open_vigil() as vigil:
        stop = threading.Event()

        def request_stop(signum: int, _: object) -> None:
            log.info("projector_stopping", signal=signal.Signals(signum).name)
            stop.set()
            vigil.projector.wake()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        log.info(
            "projector_starting",
            store=store_kind(vigil.settings),
            positions=vigil.projector.positions(),
            head=vigil.projector.head(),
        )
        # The hash ledger's notary follows the log beside the projector (never rebuilt).
        vigil.integrity.notary.start_in_thread()
        try:
            vigil.projector.run_forever(stop, report_interval=report_every)
        finally:
            vigil.integrity.notary.stop_following()


def rebuild(
    name: Annotated[
        str | None, typer.Argument(help="The view to rebuild (see `vigil status`); all if none.")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
    ] = True,
) -> None:
    """Rebuild views from the event log aside, then swap them in; reads go on meanwhile."""
    with open_vigil() as vigil:
        projector = vigil.projector
        names = None if name is None else [name]
        try:
            targets = (
                [v.name for v in projector.views] if name is None else [projector.view(name).name]
            )
        except UnknownView as exc:
            fail(str(exc), EXIT_USAGE)
        started = time.perf_counter()
        with typer.progressbar(
            length=max(1, projector.head()),
            label=f"Rebuilding {', '.join(targets)}",
            file=sys.stderr,
            hidden=not progress,
            show_pos=True,
        ) as bar:

            def advance(done: int, total: int) -> None:
                bar.length = max(1, total)
                bar.update(done - bar.pos)

            consumed = projector.rebuild(names, advance)
        seconds = time.perf_counter() - started
    rate = consumed / seconds if seconds > 0 else 0.0
    typer.echo(
        f"Rebuilt {', '.join(targets)} from {consumed} events in {seconds:.1f} s "
        f"({rate:,.0f} events/s) and swapped them in.",
        err=True,
    )


def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per view.")] = False,
    sample: Annotated[
        float,
        typer.Option(
            help="Seconds to watch the positions move, to measure rates (0: no rate).", min=0
        ),
    ] = 1.0,
) -> None:
    """Show each view's position, the log's head, the lag in events and the rate."""
    with open_vigil() as vigil:
        statuses = vigil.projector.status()
        if sample > 0:
            time.sleep(sample)
            statuses = vigil.projector.status()
    if as_json:
        for s in statuses:
            typer.echo(
                json.dumps(
                    {
                        "view": s.name,
                        "position": s.position,
                        "head": s.head,
                        "lag_events": s.lag_events,
                        "rate": round(s.rate, 1),
                    }
                )
            )
        return
    width = max([len("VIEW"), *(len(s.name) for s in statuses)])
    typer.echo(f"{'VIEW':<{width}}  {'POSITION':>10}  {'HEAD':>10}  {'LAG':>8}  {'EVENTS/S':>9}")
    for s in statuses:
        typer.echo(
            f"{s.name:<{width}}  {s.position:>10}  {s.head:>10}  {s.lag_events:>8}  {s.rate:>9.1f}"
        )
