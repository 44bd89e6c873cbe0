"""Gorilla compression of (timestamp, value) samples: Pelkonen et al., VLDB 2015, §4.1.

A chunk is a bit stream, written with :class:`ChunkEncoder` and read back with :func:`decode_chunk`:

* **timestamps** (integer milliseconds, like Prometheus): the first one in 64 bits, the first delta in
  32 bits (the paper uses 14 bits because its blocks are two hours of *seconds*; milliseconds need more),
  then every later timestamp as the *delta of deltas* ``D``, in the paper's buckets (§4.1.1)::

      D == 0             '0'
      -63   <= D <= 64     '10'   + 7 bits
      -255  <= D <= 256    '110'  + 9 bits
      -2047 <= D <= 2048   '1110' + 12 bits
      otherwise          '1111' + 32 bits

* **values** (IEEE-754 doubles): the first one in 64 bits, then each value XORed with the previous one
  (§4.1.2): ``'0'`` if equal; ``'10'`` + the meaningful bits if they fit inside the previous window of
  leading/trailing zeros; else ``'11'`` + 5 bits of leading zeros + 6 bits of length + the bits.

The XOR works on the raw 64-bit patterns, so every NaN payload -- Prometheus' *staleness marker*
``0x7ff0000000000002`` included -- comes back bit for bit, as do ±inf and -0.0.

Bits are accumulated in one Python integer per chunk: chunks hold ~120 samples (Prometheus cuts a
head chunk at 120), so the integer stays a few hundred bytes and shifts stay cheap.
"""

from __future__ import annotations

import struct

_PACK_D = struct.Struct(">d")
_PACK_Q = struct.Struct(">Q")

# (prefix bits, prefix length, value bits, low, high) for the delta-of-delta buckets of §4.1.1.
_DOD_BUCKETS = ((0b10, 2, 7, -63, 64), (0b110, 3, 9, -255, 256), (0b1110, 4, 12, -2047, 2048))
_MASK64 = (1 << 64) - 1


def float_bits(value: float) -> int:
    """The 64-bit IEEE-754 pattern of ``value``."""
    return _PACK_Q.unpack(_PACK_D.pack(value))[0]


def bits_float(bits: int) -> float:
    """The double whose 64-bit pattern is ``bits``."""
    return _PACK_D.unpack(_PACK_Q.pack(bits))[0]


class ChunkEncoder:
    """Appends samples to one compressed chunk. Timestamps must strictly increase."""

    __slots__ = ("_acc", "_nbits", "count", "_t", "_delta", "_vbits", "_lead", "_trail", "first_t")

    def __init__(self) -> None:
        self._acc = 0          # the bit stream so far, most significant bit first
        self._nbits = 0
        self.count = 0
        self._t = 0
        self._delta = 0
        self._vbits = 0
        self._lead = -1        # the previous XOR window (leading zeros, trailing zeros); -1: none yet
        self._trail = 0
        self.first_t = 0

    def _put(self, bits: int, n: int) -> None:
        self._acc = (self._acc << n) | (bits & ((1 << n) - 1))
        self._nbits += n

    @property
    def last_t(self) -> int:
        return self._t

    def append(self, t: int, value: float) -> None:
        """Add the sample ``(t ms, value)``."""
        if self.count and t <= self._t:
            raise ValueError(f"t must be > the chunk's last timestamp {self._t} (got {t!r})")
        vbits = float_bits(value)
        if self.count == 0:
            self._put(t & _MASK64, 64)
            self._put(vbits, 64)
            self.first_t = t
        else:
            delta = t - self._t
            if self.count == 1:
                if delta >= 1 << 31:
                    raise ValueError(f"t must be within 2**31 ms of the chunk's first sample (got {t!r})")
                self._put(delta, 32)
            else:
                self._put_dod(delta - self._delta, t)
            self._delta = delta
            self._put_value(vbits)
        self._t = t
        self._vbits = vbits
        self.count += 1

    def _put_dod(self, dod: int, t: int) -> None:
        if dod == 0:
            self._put(0, 1)
            return
        for prefix, plen, nbits, low, high in _DOD_BUCKETS:
            if low <= dod <= high:
                self._put(prefix, plen)
                self._put(dod, nbits)        # two's complement in nbits; +2**(n-1) reads back positive
                return
        if not -(1 << 31) < dod <= 1 << 31:
            raise ValueError(f"t must keep the delta of deltas within 32 bits (got {t!r})")
        self._put(0b1111, 4)
        self._put(dod, 32)

    def _put_value(self, vbits: int) -> None:
        x = vbits ^ self._vbits
        if x == 0:
            self._put(0, 1)
            return
        lead = 64 - x.bit_length()
        trail = (x & -x).bit_length() - 1
        lead = min(lead, 31)                        # 5 bits hold at most 31 leading zeros
        if self._lead >= 0 and lead >= self._lead and trail >= self._trail:
            # '10': the meaningful bits fit the previous window; reuse it.
            self._put(0b10, 2)
            self._put(x >> self._trail, 64 - self._lead - self._trail)
            return
        length = 64 - lead - trail
        self._put(0b11, 2)
        self._put(lead, 5)
        self._put(length & 63, 6)                   # length 64 is written as 0 (the paper's convention)
        self._put(x >> trail, length)
        self._lead, self._trail = lead, trail

    def to_bytes(self) -> bytes:
        """The chunk so far, padded to whole bytes (the sample count travels beside it)."""
        pad = -self._nbits % 8
        return ((self._acc << pad).to_bytes((self._nbits + pad) // 8, "big")) if self._nbits else b""

    @property
    def nbytes(self) -> int:
        return (self._nbits + 7) // 8


def _signed(bits: int, n: int) -> int:
    # Each bucket's range is (-2**(n-1), 2**(n-1)]: the pattern 100..0 means +2**(n-1) (as in Prometheus'
    # reader), which is how the paper's asymmetric ranges such as [-63, 64] fit in 7 bits.
    return bits - (1 << n) if bits > 1 << (n - 1) else bits


def decode_chunk(data: bytes, count: int) -> tuple[list[int], list[float]]:
    """The ``count`` samples stored in ``data`` as (timestamps in ms, values)."""
    if count == 0:
        return [], []
    acc = int.from_bytes(data, "big")
    total = len(data) * 8
    pos = 0

    def get(n: int) -> int:
        nonlocal pos
        pos += n
        if pos > total:
            raise ValueError("data must hold count samples (the chunk ends early)")
        return (acc >> (total - pos)) & ((1 << n) - 1)

    t = get(64)
    if t >> 63:
        t -= 1 << 64
    vbits = get(64)
    ts, vs = [t], [bits_float(vbits)]
    delta = 0
    lead = trail = 0
    for i in range(1, count):
        if i == 1:
            delta = get(32)
        elif get(1):
            if not get(1):
                delta += _signed(get(7), 7)
            elif not get(1):
                delta += _signed(get(9), 9)
            elif not get(1):
                delta += _signed(get(12), 12)
            else:
                delta += _signed(get(32), 32)
        t += delta
        if get(1):
            if get(1):
                lead = get(5)
                length = get(6) or 64
                trail = 64 - lead - length
            vbits ^= get(64 - lead - trail) << trail
        ts.append(t)
        vs.append(bits_float(vbits))
    return ts, vs
