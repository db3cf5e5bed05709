"""The project's own development tools, run by `make` targets, not shipped in the
user's `imgpipe` command (issue 24): `tf_check` (`make tf-check`) and
`package_stats` (`make package-host`). Each runs as
`python -m devtools.NAME` from `tests/` or `python tests/devtools/NAME.py`.
"""
