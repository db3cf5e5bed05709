"""Mutated inputs give `ok` or a classified rejection, nothing else.

The seed is a corpus file or a generated image (`imagegen.Shape`); the
mutations are drawn as a list of short descriptions, so a failure prints
`Mutated(hopper.tif, flip@1234.5, cut@9000)`, not kilobytes of bytes.
Beyond "no crash", two oracles hold Pillow to its word: a result with
variants means Pillow decodes the bytes completely, and bytes Pillow cannot
decode completely are rejected (never half an image).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from conftest import IMAGES, budget
from hypothesis import example, given, settings
from hypothesis import strategies as st
from imagegen import Shape, shapes
from PIL import Image

from imgproc import REASONS, Rejection, parse_config, process
from imgproc.sniff import PILLOW_FORMATS, sniff

# Small decodable seeds of every input format, so each example runs in ms.
SEEDS = sorted(p.name for p in IMAGES.iterdir() if p.stat().st_size < 40_000 and p.suffix != ".csv")
CFG = parse_config({"max_megapixels": 4})  # bounds the work a mutated header can ask for


@dataclass(frozen=True)
class Mutation:
    kind: str  # flip, cut, insert, set, zero
    pos: int
    arg: int = 0  # flip: bit; set: byte value; zero: length
    payload: bytes = b""  # insert

    def __repr__(self) -> str:
        extra = {"flip": f".{self.arg}", "set": f"={self.arg:#04x}", "zero": f"+{self.arg}"}
        tail = f"+{len(self.payload)}B" if self.kind == "insert" else extra.get(self.kind, "")
        return f"{self.kind}@{self.pos}{tail}"

    def apply(self, data: bytearray) -> None:
        pos = min(self.pos, len(data) - 1)
        if self.kind == "flip":
            data[pos] ^= 1 << self.arg
        elif self.kind == "cut":
            del data[pos:]
        elif self.kind == "insert":
            data[pos:pos] = self.payload
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
        return f"Mutated({', '.join(map(repr, (self.seed, *self.mutations)))})".replace("'", "")

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
        return Mutation("insert", pos, payload=draw(st.binary(min_size=1, max_size=16)))
    if kind == "zero":
        return Mutation("zero", pos, draw(st.integers(1, 512)))
    return Mutation("cut", pos)


@st.composite
def mutated(draw):
    seed = draw(st.one_of(st.sampled_from(SEEDS), shapes(budget=20_000)))
    # Positions are drawn over 0..200000 and folded into the file, so the
    # description stays valid (and short) whatever the seed's length.
    size = len(Mutated(seed, ()).build())
    muts = draw(st.lists(mutations(), min_size=1, max_size=4))
    folded = tuple(
        Mutation(m.kind, m.pos if m.kind == "set" else m.pos % size, m.arg, m.payload) for m in muts
    )
    return Mutated(seed, folded)


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


@settings(max_examples=budget(300))
@given(mutated())
@example(Mutated("hopper.png", (Mutation("zero", 3000, 64),)))
@example(Mutated("hopper.tif", (Mutation("set", 20, 0xFF), Mutation("cut", 40000))))
@example(Mutated(Shape("png", 50, 2000, "RGB", orientation=6), (Mutation("flip", 900, 3),)))
def test_mutated_inputs_are_ok_or_classified(sample):
    data = sample.build()
    try:
        result = process(data, CFG)
    except Rejection as rej:
        assert rej.reason in REASONS
        assert rej.detail
        if rej.reason == "corrupt" and "CRC" not in rej.detail:
            # Only what Pillow itself cannot decode is corrupt. (A PNG whose
            # image data fails its CRC decodes in Pillow, which skips IDAT
            # CRCs; the processor checks them.)
            assert not _pillow_decodes(data), sample
    else:
        assert result.outputs
        for out in result.outputs:
            assert out.data and out.width >= 1 and out.height >= 1
        assert _pillow_decodes(data), f"{sample}: variants from bytes Pillow cannot decode"
