"""Work that more than one command runs: a backfill (`imgpipe backfill` and the
demo's day two) and a redrive (`imgpipe redrive` and the demo's outage)."""
