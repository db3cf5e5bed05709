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
import importlib
import sys
import textwrap

from imgpipe import __version__
from imgpipe.closedpipe import tolerate_closed_stdout


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
    "demo": (
        "run the whole pipeline locally on samples or your folder",
        "Upload each file to a local source bucket, route it with the EventBridge pattern "
        "evaluated from the Terraform, run the real handler with FC's retries and a "
        "dead-letter file, print a table and a cost estimate, and write an HTML report "
        "(WORK_DIR/report.html) showing every upload beside its variants.",
        "imgpipe demo\nimgpipe demo --source ~/Pictures/trip --work-dir /tmp/trip-demo",
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
    # Issue 25: a client's uploads and reads (docs/uploading.md)
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

# Each command's module: `add_arguments(parser)` and `run(args) -> exit status`.
# The one place the local tools import lazily: a command's module is imported
# only when that command runs or shows its help. Importing all of them (OSS,
# Pillow, tqdm, the Terraform reader...) costs every run about 0.5 s
# (`python -X importtime -c "import imgpipe.commands.backfill, ..."`).
COMMAND_MODULES = {
    "process": "imgpipe.commands.process",
    "bench": "imgpipe.commands.bench",
    "invoke": "imgpipe.commands.invoke",
    "demo": "imgpipe.commands.demo",
    "cost": "imgpipe.commands.cost",
    "smoke": "imgpipe.commands.smoke",
    "backfill": "imgpipe.commands.backfill",
    "redrive": "imgpipe.commands.redrive",
    "upload-policy": "imgpipe.commands.upload_policy",
    "url": "imgpipe.commands.url",
    "upload-page": "imgpipe.commands.demo.upload_page",
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


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; `only`: that command's flags alone ("": none), the
    other commands' modules not imported (see COMMAND_MODULES)."""
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

    for name, module in COMMAND_MODULES.items():
        p = _command(sub, name)
        if only is None or name == only:
            importlib.import_module(module).add_arguments(p)
    for (name, flag), text in _MORE_HELP.items():
        for action in sub.choices[name]._actions:
            if flag in action.option_strings and not action.help:
                action.help = text
    return parser


def main(argv: list[str] | None = None) -> int:
    with tolerate_closed_stdout():
        try:
            argv = sys.argv[1:] if argv is None else argv
            chosen = next((a for a in argv if not a.startswith("-")), None)
            # no command (`imgpipe --help`, a typo): no command's module at all
            return _run(_parse(parser(chosen if chosen in COMMANDS else ""), argv))
        except KeyboardInterrupt:
            print("imgpipe: interrupted", file=sys.stderr)
            return 130


def _parse(top: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse; a flag the command does not know is that command's usage error
    (`imgpipe process: error: ... (see imgpipe process --help)`), not the top level's."""
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
    return importlib.import_module(COMMAND_MODULES[args.command]).run(args)
