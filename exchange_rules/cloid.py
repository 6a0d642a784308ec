"""Client order ids that say whose order it is: asset, epoch and sequence.

Hyperliquid cloids are ``0x`` + 32 hex digits (16 bytes). Ours are laid out as
``magic(2) | asset index(2) | epoch(4) | sequence(8)``, so reconciliation can tell our
orders from anyone else's and from older incarnations of our own order actor.
"""

from __future__ import annotations

from typing import NamedTuple

MAGIC = 0x6D68  # "mh"


class CloidParts(NamedTuple):
    asset_index: int
    epoch: int
    seq: int


EPOCHS_PER_SESSION = 1 << 16  # order epochs one process may use before its ids could meet the next's


def session_epoch_base(unix_s: float) -> int:
    """The epoch a process starts counting from on a venue that outlives it (Hyperliquid,
    the remote sim): the start time in 2-second steps (a 36-hour cycle) in the epoch's high
    16 bits. A restarted process thus never reuses the client order ids of the one it
    replaces, whose orders may still rest (a reused cloid is refused as a duplicate, or
    reads as our own current order). Our orders live seconds (``expiresAfter``, the
    dead-man's switch), so the cycle never meets a live one."""
    return (int(unix_s) // 2 % EPOCHS_PER_SESSION) * EPOCHS_PER_SESSION


def make_cloid(asset_index: int, epoch: int, seq: int) -> str:
    if not (0 <= asset_index < 1 << 16 and 0 <= epoch < 1 << 32 and 0 <= seq < 1 << 64):
        raise ValueError(f"cloid field out of range: asset={asset_index} epoch={epoch} seq={seq}")
    value = (MAGIC << 112) | (asset_index << 96) | (epoch << 64) | seq
    return f"0x{value:032x}"


def parse_cloid(cloid: str) -> CloidParts | None:
    """The parts of one of our cloids, or None for anything that is not ours."""
    if not isinstance(cloid, str) or len(cloid) != 34 or not cloid.startswith("0x"):
        return None
    try:
        value = int(cloid[2:], 16)
    except ValueError:
        return None
    if value >> 112 != MAGIC:
        return None
    return CloidParts((value >> 96) & 0xFFFF, (value >> 64) & 0xFFFFFFFF, value & (1 << 64) - 1)
