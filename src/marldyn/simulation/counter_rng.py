"""Counter-based uniform random numbers (SplitMix64), identical in numpy and numba.

The d-th uniform of a run with key ``key`` is ``mix(key + (d + 1) * 0x9E3779B97F4A7C15) >> 11`` scaled
to [0, 1): the SplitMix64 sequence started at ``key``. A step's draws sit at fixed counters, so

- the numpy reference and the numba kernel consume exactly the same numbers (bit-identical runs),
- the generator state is just the step index (checkpoints need no RNG state),
- different runs use different keys from ``numpy.random.SeedSequence.spawn``.

Layout of the draws of step ``t`` with N agents, K states and E edges (``draws_per_step = N*K + E``):
counter ``t * draws_per_step + i*K + s`` is agent i's action draw in state s, and counter
``t * draws_per_step + N*K + e`` is edge e's transition draw.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_ONE = np.uint64(1)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def uniform(key, counter):
    """One uniform in [0, 1) for ``counter`` (uint64) of the stream ``key`` (uint64); numba."""
    z = key + (counter + _ONE) * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return float(np.int64(z >> _S11)) * _UNIT  # < 2**53: the signed conversion is exact and fast


def uniforms(key, first_counter: int, count: int) -> np.ndarray:
    """Uniforms for counters ``first_counter .. first_counter + count - 1`` (numpy), shape (count,)."""
    counters = np.arange(count, dtype=np.uint64) + np.uint64(first_counter)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + (counters + _ONE) * _GOLDEN
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return (z >> _S11).astype(np.float64) * _UNIT


def run_key(seed_sequence: np.random.SeedSequence) -> np.uint64:
    """The 64-bit stream key of one run, from its (spawned) seed sequence."""
    return seed_sequence.generate_state(1, dtype=np.uint64)[0]
