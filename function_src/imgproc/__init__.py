"""The image processor shared by the FC handler and the `imgpipe` tools."""

from .config import Config, Encoder, Variant, Watermark, default_config, load_config, parse_config
from .errors import REASONS, ConfigError, Rejection
from .keys import CONTENT_TYPES, EXTENSIONS, output_key
from .pipeline import Output, Processed, admit, estimate_memory, process

__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "REASONS",
    "Config",
    "ConfigError",
    "Encoder",
    "Output",
    "Processed",
    "Rejection",
    "Variant",
    "Watermark",
    "admit",
    "default_config",
    "estimate_memory",
    "load_config",
    "output_key",
    "parse_config",
    "process",
]
