"""Local tools around the image pipeline: process, bench, invoke, demo, cost.

The processing code itself lives in `function_src/` (what is deployed to
Function Compute); these tools import it from there so that a laptop run and
the cloud run execute the same implementation.
"""

__version__ = "0.1.0"
