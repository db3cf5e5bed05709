"""Make the deployed function's code importable from the local tools.

`function_src/` is the root of the deployment zip (FC imports `index` from
it), not an installed package. The tools put that directory on `sys.path`
instead of keeping a second copy, so there is exactly one implementation.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTION_SRC = REPO_ROOT / "function_src"

if not (FUNCTION_SRC / "imgproc").is_dir():  # pragma: no cover - broken checkout
    raise ImportError(f"imgpipe runs from a checkout: {FUNCTION_SRC} is missing")
if str(FUNCTION_SRC) not in sys.path:
    sys.path.insert(0, str(FUNCTION_SRC))
