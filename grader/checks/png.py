"""Deciding whether some bytes are a PNG a viewer can decode, within bounds: `png_size`.

A judge that receives a file (a plot the student's code saved) decodes it here, in the parent,
rather than trusting what the child says about it. The decoder is the project's own, in about
ninety lines of the standard library and numpy: Pillow is not a dependency of the grader or of
the student kit, and its errors would not say which part of the file is wrong. It checks
everything but the filters' arithmetic. Decompression bombs are bounded: an image larger than
:data:`PNG_MAX_SIDE` pixels a side or :data:`PNG_MAX_RAW` bytes of scanlines is refused from its
header, before anything is inflated, and inflating stops at the first byte beyond what the header's
size needs; the inflated data is streamed a megabyte at a time, never held whole.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_MAX_SIDE = 20_000              # pixels: a plot is a few thousand at most
PNG_MAX_RAW = 256 * 2**20          # bytes of decompressed scanlines inflated to check the image data


class PngError(ValueError):
    """Why some bytes are not a PNG a viewer can decode."""


# colour type -> (channels, allowed bit depths)
_PNG_COLOR_TYPES = {0: (1, (1, 2, 4, 8, 16)), 2: (3, (8, 16)), 3: (1, (1, 2, 4, 8)), 4: (2, (8, 16)),
                    6: (4, (8, 16))}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, after decoding it as a viewer does, or PngError saying why it cannot be.

    Checks the signature, every chunk's length and CRC, the IHDR fields, the chunk order
    (IHDR first, PLTE before the image data for a palette, IEND last) and that the image data
    inflates (zlib, checksum included) to exactly the scanlines width x height needs, each with
    a valid filter type. Only the filters' arithmetic is not applied. Bounded: the
    decompressed data is streamed, never held whole.
    """
    if not data.startswith(PNG_MAGIC):
        raise PngError("it does not start with the PNG signature")
    pos, chunks = len(PNG_MAGIC), []
    while True:
        if pos + 8 > len(data):
            raise PngError("it ends in the middle of a chunk header (the file is cut off)" if pos < len(data)
                           else "it has no IEND chunk (the file is cut off)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if not kind.isalpha():
            raise PngError(f"it holds a chunk of an invalid type {kind!r} (the file is corrupt)")
        if length > 2**31 - 1 or pos + 12 + length > len(data):
            raise PngError(f"its chunk {kind.decode('ascii')} is cut off (the file is incomplete)")
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise PngError(f"the checksum (CRC) of its chunk {kind.decode('ascii')} is wrong (the file is corrupt)")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    if chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise PngError("its first chunk is not a 13-byte IHDR")
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if not (1 <= width <= 2**31 - 1 and 1 <= height <= 2**31 - 1):
        raise PngError(f"its header gives the size {width} x {height}")
    if color not in _PNG_COLOR_TYPES or depth not in _PNG_COLOR_TYPES[color][1]:
        raise PngError(f"its header gives colour type {color} with bit depth {depth}, which PNG does not define")
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        raise PngError("its header names an unknown compression, filter or interlace method")
    kinds = [k for k, _ in chunks]
    if b"IDAT" not in kinds:
        raise PngError("it holds no image data (IDAT)")
    first, last = kinds.index(b"IDAT"), len(kinds) - 1 - kinds[::-1].index(b"IDAT")
    if any(k != b"IDAT" for k in kinds[first:last + 1]):
        raise PngError("its image data chunks (IDAT) are not consecutive")
    if color == 3 and b"PLTE" not in kinds[:first]:
        raise PngError("it is a palette image without a palette (PLTE) before its image data")
    unknown = sorted({k.decode("ascii") for k in kinds
                      if k[:1].isupper() and k not in (b"IHDR", b"PLTE", b"IDAT", b"IEND")})
    if unknown or kinds.count(b"IHDR") != 1:
        raise PngError(f"it holds critical chunks a decoder does not know ({', '.join(unknown) or 'a second IHDR'})")
    if width > PNG_MAX_SIDE or height > PNG_MAX_SIDE:
        raise PngError(f"it is {width} x {height} pixels, more than any plot needs ({PNG_MAX_SIDE} a side)")
    bits = _PNG_COLOR_TYPES[color][0] * depth
    passes = ([(width, height)] if interlace == 0 else
              [(-(-(width - x0) // dx), -(-(height - y0) // dy)) for x0, y0, dx, dy in _ADAM7])
    scanlines = [(h, 1 + -(-(w * bits) // 8)) for w, h in passes if w > 0 and h > 0]
    expected = sum(h * row for h, row in scanlines)
    if expected > PNG_MAX_RAW:
        raise PngError(f"it is {width} x {height} pixels, more than any plot needs")
    starts = (offset + r * row for offset, (h, row) in
              zip(np.cumsum([0] + [h * row for h, row in scanlines]).tolist(), scanlines) for r in range(h))
    compressed = b"".join(body for kind, body in chunks if kind == b"IDAT")
    inflater = zlib.decompressobj()
    done, step, next_row = 0, 2**20, next(starts, None)
    try:
        while not inflater.eof:
            out = inflater.decompress(compressed, step)
            compressed = inflater.unconsumed_tail
            if done + len(out) > expected:
                raise PngError(f"its image data holds more than the {width} x {height} pixels of its header")
            while next_row is not None and next_row < done + len(out):
                if out[next_row - done] > 4:
                    raise PngError("a scanline of its image data has an unknown filter type (corrupt data)")
                next_row = next(starts, None)
            done += len(out)
            if not compressed and len(out) < step:
                break
    except zlib.error as exc:
        raise PngError(f"its image data cannot be decompressed ({exc})") from None
    if not inflater.eof:
        raise PngError("its image data stops in the middle (the compressed stream is cut off)")
    if done != expected:
        raise PngError(f"its image data holds {done} bytes of scanlines, {width} x {height} pixels need {expected}")
    return width, height
