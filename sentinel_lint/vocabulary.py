"""The words names are read by, in one place: what says "sentinel", what says "count, size or offset".

The facts pass, the byte prefilter and the checks all use these lists; they must not drift apart.
"""
from __future__ import annotations

# In a name, these say the value is a sentinel ("no id"): PAD_SLOT_ID, NULL_BLOCK_ID, INVALID_LOC, dummy_row.
SENTINEL_WORDS = ("pad", "null", "sentinel", "invalid", "placeholder", "empty", "dummy", "unused")

# In a name, these say the value is a count, size, stride or offset, which an id never is (stride_state_indices).
NOT_INDEX_WORDS = ("stride", "num_", "_size", "_len", "numel", "offset")
NOT_INDEX_SUFFIXES = ("len", "size", "count")


def looks_like_sentinel(name: str) -> bool:
    """A name that carries a sentinel (``pad_slot_id``, ``NULL_BLOCK_ID``), not a bound like ``num_blocks``."""
    lowered = name.lower()
    return any(word in lowered for word in SENTINEL_WORDS)


def not_an_index_name(name: str) -> bool:
    """Names that say "count, length, size, stride or offset", which a slot id never is."""
    lowered = name.lower()
    return any(word in lowered for word in NOT_INDEX_WORDS) or lowered.endswith(NOT_INDEX_SUFFIXES)


def sentinel_bytes() -> tuple[bytes, ...]:
    """The sentinel words as constants spell them (PAD, NULL, INVALID...), for the byte prefilter."""
    return tuple(word.upper().encode() for word in SENTINEL_WORDS)
