"""The counter-based random numbers (simulation/counter_rng.py): uniforms in numpy and numba, normals."""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import stats

from marldyn.simulation.counter_rng import normal_pair, normals, uniform, uniforms

Z = 5.0


@njit
def _uniforms_numba(key, first, count):
    out = np.empty(count)
    for c in range(count):
        out[c] = uniform(key, np.uint64(first + c))
    return out


def test_numpy_and_numba_uniforms_are_identical():
    key = np.uint64(987654321)
    np.testing.assert_array_equal(uniforms(key, 10, 1000), _uniforms_numba(key, 10, 1000))


def test_counter_normals_are_standard_normal():
    sample = normals(np.uint64(12345), 0, 200_001)
    assert sample.shape == (200_001,)
    assert stats.kstest(sample, "norm").pvalue > 1e-4
    assert abs(sample.mean()) < Z / np.sqrt(sample.size)
    assert abs(sample.var() - 1.0) < Z * np.sqrt(2.0 / sample.size)


def test_normals_sit_at_fixed_counters():
    key = np.uint64(5)
    whole = normals(key, 0, 10)
    np.testing.assert_array_equal(normals(key, 2, 6), whole[4:10])  # pair c holds normals 2c, 2c + 1
    first, second = normal_pair(key, np.uint64(3))
    assert (first, second) == (whole[6], whole[7])
