"""One module (or package) per `imgpipe` command: `add_arguments(parser)` and
`run(args) -> exit status`, composing the cloud layer (`imgpipe.cloud`), the
jobs (`imgpipe.jobs`) and the pricing model (`imgpipe.pricing`). No command
imports another (.importlinter, "commands-apart"); `imgpipe.cli` imports
only the one that runs.
"""
