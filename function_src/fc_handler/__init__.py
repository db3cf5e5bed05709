"""The Function Compute side of the pipeline: events, settings, storage."""
