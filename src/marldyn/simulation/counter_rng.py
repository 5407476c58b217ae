"""Counter-based random numbers (SplitMix64): uniforms identical in numpy and numba, and standard normals.

The d-th uniform of a run with key ``key`` is ``mix(key + (d + 1) * 0x9E3779B97F4A7C15) >> 11`` scaled
to [0, 1): the SplitMix64 sequence started at ``key``. A step's draws sit at fixed counters, so

- the numpy reference and the numba kernel consume exactly the same numbers (bit-identical runs),
- the generator state is just the step index (checkpoints need no RNG state),
- different runs use different keys from ``numpy.random.SeedSequence.spawn``.

Layout of the draws of step ``t`` with N agents, K states and E edges (``draws_per_step = N*K + E``):
counter ``t * draws_per_step + i*K + s`` is agent i's action draw in state s, and counter
``t * draws_per_step + N*K + e`` is edge e's transition draw.

Standard normals (for the SDE ensembles) come in pairs: pair ``c`` owns the 32 uniforms ``32 c .. 32 c + 31``
(:func:`normal_pair`).
"""

from __future__ import annotations

import math

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


NORMAL_ATTEMPTS = 16  # polar-method attempts per normal pair before the Box–Muller fallback (P = 0.2146^16 ≈ 2e-11)


@njit(cache=True, inline="always")
def normal_pair(key, counter):
    """Two independent standard normals from the counter-based stream: pair ``counter`` owns the uniforms
    ``32 counter .. 32 counter + 31``.

    Marsaglia's polar method (exact; one log and one square root, no trigonometry) on up to 16 pairs of
    uniforms; if all 16 are rejected, Box–Muller on the first pair (also exact).
    """
    base = counter * np.uint64(2 * NORMAL_ATTEMPTS)
    for attempt in range(NORMAL_ATTEMPTS):
        u = 2.0 * uniform(key, base + np.uint64(2 * attempt)) - 1.0
        v = 2.0 * uniform(key, base + np.uint64(2 * attempt + 1)) - 1.0
        radius2 = u * u + v * v
        if 0.0 < radius2 < 1.0:
            factor = math.sqrt(-2.0 * math.log(radius2) / radius2)
            return u * factor, v * factor
    u1 = uniform(key, base)
    u2 = uniform(key, base + np.uint64(1))
    radius = math.sqrt(-2.0 * math.log(1.0 - u1))  # 1 - u1 in (0, 1]
    return radius * math.cos(2.0 * math.pi * u2), radius * math.sin(2.0 * math.pi * u2)


@njit(cache=True)
def normals(key, first_counter, count):
    """``count`` standard normals of the stream: pairs at counters first_counter, first_counter + 1, ... (numba).

    Examples
    --------
    >>> normals(np.uint64(7), 0, 3).shape
    (3,)
    """
    out = np.empty(count + (count % 2))
    for c in range(out.shape[0] // 2):
        out[2 * c], out[2 * c + 1] = normal_pair(key, np.uint64(first_counter) + np.uint64(c))
    return out[:count]
