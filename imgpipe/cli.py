"""The `imgpipe` command line.

It speaks to people: a mistake in a flag or a path is one line naming it,
never a Python traceback. Exit status 2 is a usage error (a bad flag, a
path that is not there: argparse's `error: argument --flag: ...`, checked
before any work by the types in `imgpipe.argtypes`), 1 is a failure of
the work itself, 0 is success. A reader that closes the pipe early
(`imgpipe process ... | head -1`) is not an error: see `imgpipe.closedpipe`.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from imgpipe import __version__, argtypes
from imgpipe.closedpipe import tolerate_closed_stdout
from imgproc import ConfigError, load_config

REPEAT = argtypes.integer(1, 1000, meaning="a whole number of runs")


def _config(path: Path | None):
    if path is None:
        return load_config(None)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError((exc.strerror or str(exc)).lower()) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text (a JSON file is expected)") from None
    return load_config(text)


def _invoke(event_path: Path, buckets: Path) -> int:
    import json

    from fc_handler.settings import SettingsError
    from imgpipe.invoke import invoke

    try:
        event = event_path.read_bytes()
    except OSError as exc:
        print(
            f"imgpipe invoke: {event_path}: {(exc.strerror or str(exc)).lower()}", file=sys.stderr
        )
        return 2
    result = invoke(event, buckets)
    print(json.dumps({"invoke": result.summary()}, ensure_ascii=False, default=str), flush=True)
    if isinstance(result.error, SettingsError):
        print(f"imgpipe invoke: configuration: {result.error}", file=sys.stderr)
    return 1 if result.raised else 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is in --help)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


TOP_EXAMPLES = (
    "imgpipe demo                  # the whole pipeline on this machine, report included\n"
    "imgpipe process photo.jpg --out out/\n"
    "imgpipe cost --requests 3000000 --memory-mb 512 --vcpu 0.25 --duration-ms 200\n"
    "imgpipe backfill --buckets .demo/buckets --dry-run   # after imgpipe demo\n"
    "terraform output -json | imgpipe smoke --outputs -  # after terraform apply"
)

# Each subcommand: (one line for `imgpipe --help`, what it does, examples).
# tests/test_cli_help.py holds every subcommand and flag to having help.
COMMANDS = {
    "process": (
        "make the variants of local image files",
        "Run the processor (the code FC runs, function_src/imgproc) on local files and "
        "write each one's variants under --out, named by the config's key template. "
        "One JSON line per input on stdout; then one summary line on stderr.",
        "imgpipe process photo.jpg --out out/\n"
        "imgpipe process *.jpg --out out/ --config my-config.json --quiet | jq .status",
    ),
    "bench": (
        "time and measure the core against baselines",
        "Time the processor against a naive Pillow design and libvips on the same images "
        "(ms, peak memory, output bytes), or with --e2e the whole handler against a local "
        "OSS stand-in.",
        "imgpipe bench --repeat 3\nimgpipe bench photo.jpg --methods core,naive --json\n"
        "imgpipe bench --e2e --latency-ms 100",
    ),
    "invoke": (
        "run the real FC handler on an event, local buckets",
        "Run the FC handler (function_src/index.py) on one event file, with the folders "
        "under --buckets standing in for OSS: DIR/<bucket>/<key>. It reads its settings "
        "from the environment, as in FC.",
        "# event.json: an OSS CloudEvent for photos-src/uploads/x.jpg, and the file\n"
        "# itself at buckets/photos-src/uploads/x.jpg\n"
        "SOURCE_BUCKET=photos-src TARGET_BUCKET=photos-dst \\\n"
        "  imgpipe invoke event.json --buckets buckets/",
    ),
    "package-stats": (
        "cold import time of a host-built package",
        "Import the handler from a package built for this machine's Python, in a fresh "
        "interpreter each time, and report the cold import time and the package's size.",
        "make package-host  # builds build/host/function.zip, then runs this\n"
        "imgpipe package-stats --zip build/host/function.zip --repeat 10",
    ),
    "demo": (
        "run the whole pipeline locally on samples or your folder",
        "Upload each file to a local source bucket, route it with the EventBridge pattern "
        "evaluated from the Terraform, run the real handler with FC's retries and a "
        "dead-letter file, print a table and a cost estimate, and write an HTML report "
        "(WORK_DIR/report.html) showing every upload beside its variants.",
        "imgpipe demo\nimgpipe demo --source ~/Pictures/trip --work-dir /tmp/trip-demo",
    ),
    "tf-check": (
        "fail on deprecated alicloud resources and arguments",
        "Check the module's .tf files for alicloud resources and arguments the provider "
        "has deprecated (run it from the repository root; `make tf-check` adds checkov).",
        "imgpipe tf-check",
    ),
    "cost": (
        "monthly Function Compute cost of a workload",
        "What FC charges a month for a workload: FC 3.0's CU pricing by default, or the "
        "reference article's rates (docs/cost.md has the worked examples).",
        "imgpipe cost --requests 5000000 --memory-mb 1024 --duration-ms 200\n"
        "imgpipe cost --requests 5000000 --memory-mb 512 --duration-ms 200 --pricing article",
    ),
    "smoke": (
        "prove a deployed stack end to end, then clean up",
        "Upload test images to the deployed source bucket, wait for the variants, check "
        "them, send a poison upload to the dead-letter queue, then delete what it made.",
        "terraform output -json > outputs.json && imgpipe smoke --outputs outputs.json\n"
        "terraform output -json | imgpipe smoke --outputs - --json",
    ),
    "backfill": (
        "invoke the function for every source object not current",
        "List the source bucket, skip what is current (the handler's own check) and "
        "invoke the function for the rest; resumable from its checkpoint "
        "(docs/day-two.md).",
        "terraform output -json > outputs.json\n"
        "imgpipe backfill --outputs outputs.json --dry-run\n"
        "imgpipe backfill --buckets .demo/buckets  # after make demo",
    ),
    "redrive": (
        "show the dead-letter queue; re-invoke, then delete",
        "Show every message in the dead-letter queue, re-invoke the function for each and "
        "delete it only once FC accepted the invocation (docs/day-two.md).",
        "imgpipe redrive --outputs outputs.json --peek\n"
        "imgpipe redrive --buckets .demo/buckets  # the demo's dead-letters.jsonl",
    ),
    # -- issue 25: uploading from a client (imgpipe/client_access.py, upload_page.py)
    "upload-policy": (
        "a signed PostObject form for one browser upload",
        "Print the form fields a browser POSTs to the source bucket: a policy OSS enforces "
        "(this bucket, a fresh folder under the source prefix, image types, at most "
        "max_object_mb, minutes) signed with the credentials in the environment "
        "(docs/uploading.md).",
        "terraform output -json > outputs.json\n"
        "imgpipe upload-policy --outputs outputs.json --json\n"
        "imgpipe upload-policy --outputs outputs.json --key-prefix avatars/ --max-mb 5",
    ),
    "url": (
        "a signed URL for one variant of the target bucket",
        "Print a signed GET URL for one object of the target bucket (a variant, a ready "
        "manifest), made with the credentials in the environment; no request is made.",
        "imgpipe url resized/large/cat.jpg.webp --outputs outputs.json --expires 600",
    ),
    "upload-page": (
        "upload from a browser through a policy, locally",
        "Serve a page that uploads a photo through a PostObject policy to a local OSS "
        "stand-in (which checks the policy as OSS does), waits for the variants and shows "
        "them; the upload goes through the demo's pipeline (WORK_DIR/report.html).",
        "imgpipe upload-page   # then open the printed URL\n"
        "imgpipe upload-page --work-dir /tmp/upload-demo --expires 300",
    ),
}

# Flags defined in other modules that came without help (filled in here so
# `--help` documents every flag; help given there wins).
_MORE_HELP = {
    ("cost", "--json"): "print JSON instead of the table",
}


def _command(sub, name: str) -> argparse.ArgumentParser:
    short, description, examples = COMMANDS[name]
    return sub.add_parser(
        name,
        help=short,
        description=textwrap.fill(description, 79),
        epilog="examples:\n" + "\n".join("  " + line for line in examples.splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _environment_help() -> str:
    from fc_handler.settings import VARIABLES

    lines = ["environment (as Terraform sets it in FC):"]
    for name, (default, what) in VARIABLES.items():
        need = "required" if default is None else f"default {default!r}"
        lines.append(f"  {name:28} {what} ({need})")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="imgpipe",
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n"
        + "\n".join("  " + line for line in TOP_EXAMPLES.splitlines())
        + "\n\n`imgpipe COMMAND --help` shows each command's flags and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"imgpipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "process")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="image files to process")
    p.add_argument(
        "--out",
        required=True,
        type=argtypes.output_dir,
        metavar="DIR",
        help="where the variants go (created if missing): DIR/<key from the key template>",
    )
    p.add_argument(
        "--config",
        type=argtypes.existing_file,
        metavar="FILE",
        help="pipeline config JSON (variants, quality, watermark...); default: the built-in",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no summary line on stderr: the JSON lines only"
    )

    b = _command(sub, "bench")
    b.add_argument(
        "images", nargs="*", type=argtypes.existing_file, help="default: tests/data/bench/*"
    )
    b.add_argument("--repeat", type=REPEAT, default=5, help="runs per image (1 to 1000)")
    b.add_argument(
        "--methods",
        type=_methods,
        default="core,naive,pyvips",
        help="comma-separated, from core, naive, pyvips (default: all three)",
    )
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    b.add_argument(
        "--config",
        type=argtypes.existing_file,
        metavar="FILE",
        help="pipeline config JSON for the core (default: the built-in)",
    )
    b.add_argument(
        "--e2e",
        action="store_true",
        help="end to end: the real handler against a local OSS stand-in; ms, requests, CU",
    )
    b.add_argument(
        "--latency-ms",
        type=argtypes.number(0, 10_000),
        default=None,
        help="--e2e: the stand-in's round-trip time per request (default 100, docs/cost.md)",
    )
    b.add_argument(
        "--cold",
        action="store_true",
        help="cold start: import, first and warm invocation, in --repeat fresh interpreters",
    )
    b.add_argument(
        "--package",
        type=argtypes.existing_dir,
        metavar="DIR",
        help="--cold: the unzipped function package instead of function_src/",
    )
    b.add_argument(
        "--max-megapixels",
        type=argtypes.number(0.000001, 10_000),
        default=None,
        metavar="MP",
        help="--e2e: the deployment's max_megapixels (default: the processor's default, 100); "
        "the recommended memory holds the largest upload it accepts",
    )

    i = _command(sub, "invoke")
    i.epilog = _environment_help() + "\n\n" + i.epilog
    i.add_argument(
        "event",
        type=argtypes.existing_file,
        metavar="EVENT.json",
        help="a CloudEvent as EventBridge delivers it (one object or a list)",
    )
    i.add_argument(
        "--buckets",
        required=True,
        type=argtypes.existing_dir,
        metavar="DIR",
        help="an existing DIR; DIR/<bucket>/<key> stands in for OSS",
    )

    s = _command(sub, "package-stats")
    s.add_argument(
        "--zip",
        type=_package_zip,
        default=Path("build/host/function.zip"),
        help="the package (default: build/host/function.zip, from make package-host)",
    )
    s.add_argument("--repeat", type=REPEAT, default=5, help="imports to time (1 to 1000)")

    d = _command(sub, "demo")
    d.add_argument(
        "--source",
        type=argtypes.existing_dir,
        metavar="DIR",
        help="your images (default: samples)",
    )
    d.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".demo"),
        metavar="DIR",
        help="emptied, then holds the buckets, the log, the dead letters and report.html "
        "(default: .demo); refused if it holds files the demo did not write",
    )
    d.add_argument(
        "--monthly",
        type=argtypes.integer(0, 10**15, meaning="a whole number of uploads"),
        default=10_000_000,
        metavar="N",
        help="uploads per month for the cost estimate",
    )

    _command(sub, "tf-check")

    c = _command(sub, "cost")
    from imgpipe.cost import add_arguments as cost_arguments

    cost_arguments(c)

    k = _command(sub, "smoke")
    from imgpipe.smoke import add_arguments as smoke_arguments

    smoke_arguments(k)

    f = _command(sub, "backfill")
    from imgpipe.backfill import add_arguments as backfill_arguments

    backfill_arguments(f)

    r = _command(sub, "redrive")
    from imgpipe.redrive import add_arguments as redrive_arguments

    redrive_arguments(r)
    _upload_commands(sub)  # issue 25
    for (name, flag), text in _MORE_HELP.items():
        for action in sub.choices[name]._actions:
            if flag in action.option_strings and not action.help:
                action.help = text
    return parser


def _upload_commands(sub) -> None:
    """upload-policy, url, upload-page (issue 25)."""
    from imgpipe.client_access import add_policy_arguments, add_url_arguments

    add_policy_arguments(_command(sub, "upload-policy"))
    add_url_arguments(_command(sub, "url"))
    u = _command(sub, "upload-page")
    u.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".demo-upload"),
        metavar="DIR",
        help="emptied, then holds the buckets, the log and report.html (default: "
        ".demo-upload); refused if it holds files the demo did not write",
    )
    u.add_argument(
        "--expires",
        type=argtypes.integer(1, 3600, meaning="a whole number of seconds"),
        default=600,
        metavar="SECONDS",
        help="how long each upload policy and signed URL is valid (default 600)",
    )


def _methods(text: str) -> list[str]:
    from imgpipe.bench import METHODS

    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(METHODS)}"
        )
    return methods


def _package_zip(text: str) -> Path:
    """A zip file, or a path not built yet (`package-stats` says how to build it)."""
    import zipfile

    path = Path(text)
    if path.exists() and not (path.is_file() and zipfile.is_zipfile(path)):
        raise argparse.ArgumentTypeError(f"{text}: not a zip file")
    return path


def main(argv: list[str] | None = None) -> int:
    with tolerate_closed_stdout():
        try:
            return _run(_parse(parser(), argv))
        except KeyboardInterrupt:
            print("imgpipe: interrupted", file=sys.stderr)
            return 130


def _parse(top: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse; a flag the command does not know is that command's usage error
    (`imgpipe process: error: ... (see imgpipe process --help)`), not the top level's."""
    argv = sys.argv[1:] if argv is None else argv
    args, extra = top.parse_known_args(argv)
    if extra and argv.index(extra[0]) < argv.index(args.command):  # before the command
        top.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        commands = next(
            a.choices for a in top._actions if isinstance(a, argparse._SubParsersAction)
        )
        commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _run(args: argparse.Namespace) -> int:
    if args.command == "upload-page":  # issue 25
        from imgpipe.upload_page import main as page_main

        return page_main(args.work_dir, args.expires)
    if args.command in ("upload-policy", "url"):  # issue 25
        from imgpipe import client_access

        run = client_access.run_policy if args.command == "upload-policy" else client_access.run_url
        return run(args)
    if args.command == "demo":
        from imgpipe.demo import main as demo_main

        return demo_main(args.source, args.work_dir, args.monthly)
    if args.command == "cost":
        from imgpipe.cost import run as cost_run

        return cost_run(args)
    if args.command == "smoke":
        from imgpipe.smoke import run as smoke_run

        return smoke_run(args)
    if args.command == "redrive":
        from imgpipe.redrive import run as redrive_run

        return redrive_run(args)
    if args.command == "backfill":
        from imgpipe.backfill import run as backfill_run

        return backfill_run(args)
    if args.command == "tf-check":
        from imgpipe.tfcheck import run as tf_run

        return tf_run()
    if args.command == "package-stats":
        from imgpipe.package_stats import run as stats_run

        return stats_run(args.zip, args.repeat)
    if args.command == "invoke":
        return _invoke(args.event, args.buckets)
    try:
        config = _config(args.config)
    except ConfigError as exc:
        print(f"imgpipe {args.command}: --config {args.config}: {exc}", file=sys.stderr)
        return 2

    if args.command == "process":
        from imgpipe.process_cmd import run

        return run(args.files, args.out, config, quiet=args.quiet)
    if args.command == "bench":
        from imgpipe.bench import OSS_LATENCY_MS, run_bench, run_cold, run_e2e

        if args.cold:
            return run_cold(args.package, args.repeat, args.json)
        if args.e2e:
            latency = OSS_LATENCY_MS if args.latency_ms is None else args.latency_ms
            return run_e2e(
                args.images, args.repeat, latency, args.json, max_megapixels=args.max_megapixels
            )

        return run_bench(args.images, args.repeat, args.methods, args.json, args.config)
    raise AssertionError(f"unknown command {args.command}")  # pragma: no cover
