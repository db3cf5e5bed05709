"""Local tools around the image pipeline: process, bench, invoke, demo, cost.

The processing code lives in `function_src/` (the root of the deployment
zip, where FC imports `index`), not in an installed package. Importing
`imgpipe` puts that directory on `sys.path`, so a laptop run and the cloud
run execute the same implementation rather than a copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

__version__ = "0.1.0"

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTION_SRC = REPO_ROOT / "function_src"

if not (FUNCTION_SRC / "imgproc").is_dir():  # pragma: no cover - broken checkout
    raise ImportError(f"imgpipe runs from a checkout: {FUNCTION_SRC} is missing")
if str(FUNCTION_SRC) not in sys.path:
    sys.path.insert(0, str(FUNCTION_SRC))
