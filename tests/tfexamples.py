"""The repository's examples, read and evaluated from their own files (test helper).

Tests that check an example must read `examples/<name>/main.tf` itself, not
a hand-copied subset of its arguments (issue 16), so an edit to the example
is what gets tested.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import hcl2
from tfparse import load_from_path

from imgpipe import REPO_ROOT
from imgpipe.cloud.terraform import Evaluated, _stage

STACK = "../../modules/imgpipe"  # how the examples call the reusable stack


def read_hcl(path: Path) -> dict[str, Any]:
    """A .tf file as plain Python values (strings without their quotes)."""
    options = hcl2.SerializationOptions(
        with_comments=False, strip_string_quotes=True, explicit_blocks=False
    )
    return hcl2.loads(path.read_text(), serialization_options=options)


def examples_using_the_module() -> list[str]:
    """Examples that call the stack (`source = "../../modules/imgpipe"`) once, without for_each."""
    found = []
    for main in sorted((REPO_ROOT / "examples").glob("*/main.tf")):
        for block in read_hcl(main).get("module", []):
            if any(
                spec.get("source") == STACK and "for_each" not in spec for spec in block.values()
            ):
                found.append(main.parent.name)
    return found


def example_arguments(example: str) -> dict[str, Any]:
    """The arguments the example passes to the module, read from its file."""
    doc = read_hcl(REPO_ROOT / "examples" / example / "main.tf")
    (spec,) = [s for b in doc["module"] for s in b.values() if s.get("source") == STACK]
    return {k: v for k, v in spec.items() if k != "source"}


def evaluate_example(example: str) -> Evaluated:
    """tfparse's view of the real example, with the module staged at its `../..`.

    The example sets no account_id, so the account is what tfparse makes of
    `data.alicloud_account` (a placeholder ID): compare names with it, not
    with a constant.
    """
    with tempfile.TemporaryDirectory(prefix="imgpipe-example-") as tmp:
        dest = Path(tmp)
        _stage(REPO_ROOT, dest)
        ex = dest / "examples" / example
        ex.mkdir(parents=True)
        for tf in (REPO_ROOT / "examples" / example).glob("*.tf"):
            shutil.copy(tf, ex / tf.name)
        return Evaluated(load_from_path(ex, allow_downloads=False))
