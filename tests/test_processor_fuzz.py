"""Mutated inputs give `ok` or a classified rejection, nothing else.

The seed is a corpus file or a generated image (`imagegen.Shape`); the
mutations are drawn as a list of short descriptions, so a failure prints
`Mutated('hopper.tif', (Mutation('flip', 1234, 5), Mutation('cut', 9000), ))`,
ready for an @example, not kilobytes of bytes.
Beyond "no crash", two oracles hold Pillow to its word: a result with
variants means Pillow decodes the bytes completely, and bytes Pillow cannot
decode completely are rejected (never half an image).
"""

from __future__ import annotations

import io
import random
import warnings
from dataclasses import dataclass

from conftest import IMAGES, budget
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from imagegen import Shape, shapes
from PIL import Image

from imgproc import Rejection, parse_config, process
from imgproc.sniff import PILLOW_FORMATS, sniff

# Small decodable seeds of every input format, so each example runs in ms.
SEEDS = sorted(p.name for p in IMAGES.iterdir() if p.stat().st_size < 40_000 and p.suffix != ".csv")
CFG = parse_config({"max_megapixels": 4})  # bounds the work a mutated header can ask for


@dataclass(frozen=True)
class Mutation:
    kind: str  # flip, cut, insert, set, zero
    pos: int
    arg: int = 0  # flip: bit; set: byte value; zero: length; insert: seed of the bytes

    def __repr__(self) -> str:
        """Valid Python, ready to paste into an @example."""
        if self.kind == "cut":
            return f"Mutation('cut', {self.pos})"
        return f"Mutation({self.kind!r}, {self.pos}, {self.arg})"

    def _repr_pretty_(self, printer, cycle) -> None:  # how Hypothesis prints it
        printer.text(repr(self))

    def apply(self, data: bytearray) -> None:
        # Positions are drawn over 0..200000 and folded into the data, so a
        # description means the same bytes whatever the seed's length.
        pos = min(self.pos, len(data) - 1) if self.kind == "set" else self.pos % len(data)
        if self.kind == "flip":
            data[pos] ^= 1 << self.arg
        elif self.kind == "cut":
            del data[pos:]
        elif self.kind == "insert":
            seeded = random.Random(self.arg)  # 1-16 bytes, fixed by the seed
            data[pos:pos] = seeded.randbytes(1 + self.arg % 16)
        elif self.kind == "set":
            data[pos] = self.arg
        else:
            end = min(len(data), pos + self.arg)
            data[pos:end] = bytes(end - pos)


@dataclass(frozen=True)
class Mutated:
    seed: str | Shape  # a corpus file name or a generated image
    mutations: tuple[Mutation, ...]

    def __repr__(self) -> str:
        return f"Mutated({self.seed!r}, ({''.join(f'{m!r}, ' for m in self.mutations)}))"

    def _repr_pretty_(self, printer, cycle) -> None:  # how Hypothesis prints it
        printer.text(repr(self))

    def build(self) -> bytes:
        if isinstance(self.seed, Shape):
            data = bytearray(self.seed.build())
        else:
            data = bytearray((IMAGES / self.seed).read_bytes())
        for m in self.mutations:
            if not data:
                break
            m.apply(data)
        return bytes(data)


@st.composite
def mutations(draw):
    kind = draw(st.sampled_from(["flip", "cut", "insert", "set", "zero"]))
    if kind == "set":  # the first 64 bytes hold sizes, chunk lengths, brands
        return Mutation("set", draw(st.integers(0, 63)), draw(st.integers(0, 255)))
    pos = draw(st.integers(0, 200_000))
    if kind == "flip":
        return Mutation("flip", pos, draw(st.integers(0, 7)))
    if kind == "insert":
        return Mutation("insert", pos, draw(st.integers(0, 2**16)))
    if kind == "zero":
        return Mutation("zero", pos, draw(st.integers(1, 512)))
    return Mutation("cut", pos)


@st.composite
def mutated(draw):
    seed = draw(st.one_of(st.sampled_from(SEEDS), shapes(budget=20_000)))
    return Mutated(seed, tuple(draw(st.lists(mutations(), min_size=1, max_size=4))))


def _pillow_decodes(data: bytes) -> bool:
    """Does Pillow, asked plainly, decode the whole first frame?"""
    kind = sniff(data[:64])
    if kind is None:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=PILLOW_FORMATS[kind]) as im:
                im.load()
    except Exception:  # noqa: BLE001 - any failure counts as "does not decode"
        return False
    return True


def _libvips_refuses(data: bytes) -> bool:
    """Does libvips (through pyvips, not imgproc.pngdecode), asked to fail
    on errors, refuse the file? libpng, as libvips
    runs it, is stricter than Pillow: a chunk
    length past the end of the file, for one, is an error to it."""
    import pyvips

    try:
        pyvips.Image.new_from_buffer(data, "", fail_on="error", access="sequential").avg()
    except pyvips.Error:
        return True
    return False


@settings(max_examples=budget(300))
@given(mutated())
@example(Mutated("hopper.png", (Mutation("zero", 3000, 64),)))
@example(Mutated("hopper.tif", (Mutation("set", 20, 0xFF), Mutation("cut", 40000))))
@example(Mutated(Shape("png", 50, 2000, "RGB", orientation=6), (Mutation("flip", 900, 3),)))
@example(Mutated("gbr.png", (Mutation("flip", 51, 0),)))  # IDAT's length past the end
def test_mutated_inputs_are_ok_or_classified(sample):
    data = sample.build()
    try:
        result = process(data, CFG)
    except Rejection as rej:
        event(f"rejected: {rej.reason}")  # the outcome mix, in --hypothesis-show-statistics
        assert rej.detail
        if rej.reason == "corrupt" and "libvips" in rej.detail:
            # PNGs imgproc.pngdecode takes: what libvips itself refuses.
            assert _libvips_refuses(data), sample
        elif rej.reason == "corrupt" and "CRC" not in rej.detail:
            # Only what Pillow itself cannot decode is corrupt. (A PNG whose
            # image data fails its CRC decodes in Pillow, which skips IDAT
            # CRCs; the processor checks them.)
            assert not _pillow_decodes(data), sample
    else:
        event("variants")
        assert result.outputs
        for out in result.outputs:
            assert out.data and out.width >= 1 and out.height >= 1
        # Variants only from bytes a reference decoder takes whole: Pillow, or
        # for the PNGs imgproc.pngdecode takes, libvips.
        decodes = _pillow_decodes(data) or (
            result.decoder == "libvips" and not _libvips_refuses(data)
        )
        assert decodes, f"{sample}: variants from bytes no reference decoder takes"
