"""``aelog demo``: train example runs on bundled digits, then open TensorBoard on the tab."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time

from aelog.cli.errors import CliError
from aelog.logfile.format import PLUGIN_NAME

DEFAULT_STEPS = 800


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train example runs, then start TensorBoard with the Collapse Diagnosis tab",
        description="Train a handful of small autoencoders on scikit-learn's bundled digits "
        "(a healthy one and collapsed ones with different causes, tagged as two teams), "
        "print their diagnosis, then start TensorBoard on 127.0.0.1 and print the address "
        "of the Collapse Diagnosis tab. Ctrl-C stops TensorBoard.",
    )
    parser.add_argument("--logdir", default=os.path.join("runs", "aelog-demo"),
                        help="where to write the runs (default: runs/aelog-demo)")
    parser.add_argument("--port", type=int, default=6006, help="TensorBoard port (default 6006)")
    parser.add_argument("--no-serve", action="store_true",
                        help="train and print the diagnosis only; do not start TensorBoard")
    parser.add_argument("--steps", type=_positive_int, default=DEFAULT_STEPS,
                        help=f"training steps per run (default {DEFAULT_STEPS})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: not a TCP port (1-65535)")
    if not args.no_serve and not _port_is_free(args.port):
        raise CliError(f"port {args.port} on 127.0.0.1 is in use: pick another with --port, "
                       "or train only with --no-serve")
    try:
        from aelog.demo.train import train_all
    except ImportError as error:
        raise CliError(f"the demo needs torch and scikit-learn ({error})") from None
    from aelog.cli.diagnose import render_diagnoses
    from aelog.cli.loading import diagnose_runs, load_path

    print(f"Training {args.steps} steps per run on scikit-learn's digits into {args.logdir}",
          file=sys.stderr)
    started = time.monotonic()
    scenarios = train_all(args.logdir, args.steps)
    print(f"Trained {len(scenarios)} runs in {time.monotonic() - started:.0f} s\n",
          file=sys.stderr)

    runs = [r for r in load_path(args.logdir) if r.name in {s.name for s in scenarios}]
    print(render_diagnoses(diagnose_runs(runs)))
    healthy, collapsed = scenarios[0].name, scenarios[1].name
    print(f"\nNext: aelog diagnose {args.logdir}"
          f"\n      aelog compare --logdir {args.logdir} {healthy} {collapsed}"
          f"\n      aelog report {args.logdir} --out aelog-report.html")
    if args.no_serve:
        return 0
    return _serve(args.logdir, args.port)


def _serve(logdir: str, port: int) -> int:
    from aelog.demo.tensorboard_server import TensorBoardError, TensorBoardProcess

    server = TensorBoardProcess(logdir, port)
    try:
        server.start()
    except TensorBoardError as error:
        raise CliError(str(error)) from None
    print(f"\nCollapse Diagnosis tab: {server.url}#{PLUGIN_NAME}   (Ctrl-C to stop)", flush=True)
    # a plain `kill` must not leave TensorBoard behind: exit through the same cleanup
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return server.wait()
    except KeyboardInterrupt:
        print("\nStopping TensorBoard", file=sys.stderr)
        return 0
    finally:
        server.stop()


def _port_is_free(port: int) -> bool:
    """Checked before training, so a taken port fails in a second, not after the training."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value
