"""Where each variant is stored.

The layout keeps the source's path below the source prefix, so `a/x.jpg`
and `b/x.jpg` cannot overwrite each other's outputs; the default template
(`config.DEFAULT_KEY_TEMPLATE`, `{dir}{name}`) also keeps the source's
extension, so `a/x.jpg` and `a/x.png` cannot either. The same source always
maps to the same keys, which makes duplicate events harmless.
"""

from __future__ import annotations

import posixpath

EXTENSIONS = {"jpeg": "jpg", "webp": "webp", "avif": "avif", "png": "png"}
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
    "png": "image/png",
}


def output_key(template: str, relative_path: str, variant: str, fmt: str) -> str:
    """Fill the key template for one output.

    `relative_path` is the source key below the source prefix (`a/x.jpg`).
    Fields: `{path}` = `a/x`, `{dir}` = `a/` (or empty), `{stem}` = `x`,
    `{name}` = `x.jpg`, `{ext}` = `jpg`, `{format}` = `jpeg`, `{variant}`.
    """
    rel = relative_path.lstrip("/")
    directory, name = posixpath.split(rel)
    stem, _ = posixpath.splitext(name)
    if not stem:  # ".jpg" or a name that is all extension
        stem = name
    values = {
        "variant": variant,
        "path": posixpath.join(directory, stem),
        "dir": directory + "/" if directory else "",
        "stem": stem,
        "name": name,
        "ext": EXTENSIONS[fmt],
        "format": fmt,
    }
    return template.format(**values)
