"""The Fokker–Planck equation (eq. 10) of one focal agent in a fixed environment, solved on a grid.

This module is a *check* of the SDE ensembles (:mod:`marldyn.theory.sde`): the FPE

    ∂p/∂t = -∇·[μ(Q) p] + ½ ∇·∇·[Σ(Q) p]                                          (eq. 10)

and the Itô SDE dQ = μ dt + Σ^{1/2} dW (eq. 5) describe the same law, so the mean and covariance of an
Euler–Maruyama ensemble must match those of the FPE density within sampling error.

**The fixed environment.** In the population the drift μ and the diffusion Σ of a focal agent depend on
its neighbours (eqs. 7-9), which move too, so eq. (10) is non-linear and high-dimensional. Here the
environment is frozen: the action distribution X̃(s, ·) of a neighbour met in state s and the edge-state
distribution p(s) are given and constant (a focal agent among neighbours that do not learn). Then μ(Q) and
Σ(Q) are fixed functions of the focal Q alone, taken from :func:`marldyn.theory.moments.drift` and
:func:`marldyn.theory.moments.diffusion` (the exact one-step moments, docs/diffusion.md), and eq. (10) is
a *linear* PDE with time-independent coefficients.

**Which coordinates.** The grid covers ``free``, a list of one or two (state, action) entries of Q; the
other entries stay at their values in ``q_template``. The FPE on the free coordinates is the exact
marginal of the full K·M-dimensional FPE only if μ and Σ of the free coordinates do not depend on the
other coordinates ("closure"); :func:`closure_defect` measures that and :func:`solve_fokker_planck` refuses
a non-closed choice. The sound cases are:

- **2-D, the whole Q-space of a one-state, two-action game** (K = 1, M = 2, free = [(0, 0), (0, 1)]):
  any rule, β and γ. The Q-learning target max(Q1, Q2) makes μ non-linear with a kink on Q1 = Q2, and
  Σ has a full 2 x 2 structure: only the drawn action moves, so Σ12 = -μ1 μ2 (docs/diffusion.md, D7).
- **1-D, one action of a one-state game with β = 0 and γ = 0**: the policy is uniform whatever Q, and
  with γ = 0 the TD error of a1 does not involve Q(a2), so Q(a1) is a closed one-dimensional process
  with linear drift μ = α x (r - Q) and quadratic diffusion Σ = α² x [(1 - x)(r - Q)² + h v] (x = 1/M,
  r and v the mean and variance of U(a1, ã) over the neighbour's action, h = 1/k).
  With β > 0 or γ > 0 the coordinates are coupled and only the 2-D problem is exact.

**The scheme.** Finite volumes on a uniform grid of cells (centres ``axes``), density p per cell, zero
flux through the outer boundary (choose the box so that the density never reaches it; the solution
reports the mass in the outermost cells). Write eq. (10) as ∂p/∂t = -Σ_d ∂_d J_d with the flux

    J_d = μ_d p - ½ ∂_d(Σ_dd p) - ½ Σ_{e ≠ d} ∂_e(Σ_de p).

On the face between cells c and c + e_d the normal part μ_d p - ½ ∂_d(Σ_dd p) = B p - D ∂_d p, with
B = μ_d - ½ ∂_d Σ_dd and D = ½ Σ_dd, is discretised either with central differences (default,
second order),

    J = B (p_c + p_{c+e_d}) / 2 - D (p_{c+e_d} - p_c) / h,

which is monotone (an M-matrix in 1-D) when the cell Péclet number w = B h / D satisfies abs(w) <= 2
(checked), or with the Scharfetter–Gummel (Chang–Cooper exponential-fitting) flux

    J = (D / h) [Bern(-w) p_c - Bern(w) p_{c+e_d}],   Bern(x) = x / (eˣ - 1),

which keeps p >= 0 in 1-D for any w but adds a numerical diffusion of about D w²/12 (a few per cent of the
variance growth at w ~ 0.5, so the central flux is the default for this moment check). μ_d is evaluated at
the face, Σ_dd at the two cell centres (D is their mean, ∂_d Σ_dd their difference quotient; with this
choice the central flux is exactly μ_d p̄ - ½ (Σ_dd p)' in conservative form). The cross term of 2-D
problems, -½ ∂_e(Σ_de p), is the mean of the central differences of the two cells next to the face.
Both schemes conserve mass exactly. The result is a sparse generator L (dp/dt = L p), integrated in
time with Crank–Nicolson (one sparse LU factorisation per step length). Cost: O(n_cells) per step after
the factorisation; memory O(n_cells) (n_cells = N₁ N₂). Second order in h and dt.

**Moments.** The cell values are cell averages of a smooth density, so the moments are those of the
grouped distribution with Sheppard's correction: the mean is Σ_c P_c y_c and the covariance
Σ_c P_c (y_c - m)(y_c - m)ᵀ - diag(h²/12) (P_c the cell masses). The initial density is the exact cell
masses of a Gaussian.

Time is in simulator steps, as everywhere (μ per step, Σ per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu
from scipy.special import ndtr

from ..errors import ConfigError
from .moments import diffusion, drift

__all__ = [
    "FixedEnvironment",
    "FokkerPlanckSolution",
    "closure_defect",
    "euler_maruyama_ensemble",
    "fokker_planck_operator",
    "solve_fokker_planck",
]


@dataclass(frozen=True, eq=False)
class FixedEnvironment:
    """A focal agent among neighbours that do not learn: μ(Q) and Σ(Q) are fixed functions of its Q.

    Attributes
    ----------
    game : Game
    neighbor_policy : ndarray, shape (state, action)
        X̃(s, ã), the action distribution of a neighbour met on an edge in state s (eq. 8).
    state_distribution : ndarray, shape (state,)
        p(s), the probability that an edge of the focal agent is in state s (the k edge states are
        independent draws from it).
    degree : int
        k.
    alpha, beta, gamma : float
    rule : str
    """

    game: object
    neighbor_policy: np.ndarray
    state_distribution: np.ndarray
    degree: int
    alpha: float
    beta: float
    gamma: float
    rule: str = "q_learning"

    def moments(self, q) -> tuple[np.ndarray, np.ndarray]:
        """μ(Q) (eq. 9) and Σ(Q) (eq. 5) of a batch of focal Q-tables.

        Parameters
        ----------
        q : array_like, shape (..., state, action)

        Returns
        -------
        mu : ndarray, shape (..., state, action)
        sigma : ndarray, shape (..., state * action, state * action)
            In the row-major (state, action) ordering of :func:`marldyn.theory.moments.diffusion`.
        """
        arguments = (q, self.neighbor_policy, self.state_distribution, self.degree, self.game)
        parameters = dict(alpha=self.alpha, beta=self.beta, gamma=self.gamma, rule=self.rule)
        return drift(*arguments, **parameters), diffusion(*arguments, **parameters)


@dataclass(frozen=True, eq=False)
class FokkerPlanckSolution:
    """The FPE density on the grid over time and its moments.

    Attributes
    ----------
    time : ndarray, shape (time,)
        Times in simulator steps.
    axes : tuple of ndarray
        Cell centres along each free coordinate, shapes (N₁,) [, (N₂,)].
    density : ndarray, shape (time, N₁[, N₂])
        p(t, Q) (probability per unit Q volume), cell averages.
    mean : ndarray, shape (time, dim)
    covariance : ndarray, shape (time, dim, dim)
    mass : ndarray, shape (time,)
        Total probability (1 up to round-off: the scheme conserves mass).
    boundary_mass : ndarray, shape (time,)
        Probability in the outermost layer of cells; it must stay negligible (the box is large enough).
    """

    time: np.ndarray
    axes: tuple
    density: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray
    mass: np.ndarray
    boundary_mass: np.ndarray


def matrix_square_root(covariance: np.ndarray) -> np.ndarray:
    """Symmetric square root of (batches of) positive semi-definite matrices; tiny negative eigenvalues → 0."""
    values, vectors = np.linalg.eigh(covariance)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]) @ np.swapaxes(vectors, -1, -2)


# ----------------------------------------------------------------------------------------------
# coordinates
# ----------------------------------------------------------------------------------------------
def _check_free(free, q_template, game):
    template = np.array(q_template, dtype=np.float64)
    if template.shape != (game.n_states, game.n_actions) or not np.all(np.isfinite(template)):
        raise ConfigError(f"q_template must be a finite (state, action) = {(game.n_states, game.n_actions)} table")
    try:
        pairs = [(int(s), int(a)) for s, a in free]
    except (TypeError, ValueError):
        raise ConfigError(f"free = {free!r} must be a list of (state, action) pairs") from None
    if not 1 <= len(pairs) <= 2 or len(set(pairs)) != len(pairs):
        raise ConfigError(f"free = {free!r} must name one or two distinct (state, action) entries")
    for s, a in pairs:
        if not (0 <= s < game.n_states and 0 <= a < game.n_actions):
            raise ConfigError(f"free entry ({s}, {a}) is outside the game's {game.n_states} states x {game.n_actions}")
    flat = np.array([s * game.n_actions + a for s, a in pairs])
    return template, pairs, flat


def _embed(template, pairs, points):
    """Q-tables (..., state, action) equal to ``template`` except at the free entries, set from ``points``."""
    points = np.asarray(points, dtype=np.float64)
    q = np.broadcast_to(template, points.shape[:-1] + template.shape).copy()
    for index, (s, a) in enumerate(pairs):
        q[..., s, a] = points[..., index]
    return q


def _free_moments(environment, template, pairs, flat, points):
    """μ (..., dim) and Σ (..., dim, dim) of the free coordinates at ``points`` (..., dim)."""
    mu, sigma = environment.moments(_embed(template, pairs, points))
    mu_free = np.stack([mu[..., s, a] for s, a in pairs], axis=-1)
    return mu_free, sigma[..., flat[:, None], flat[None, :]]


def _check_axes(axes, dim):
    if len(axes) != dim:
        raise ConfigError(f"axes must hold {dim} array(s) of cell centres, one per free coordinate")
    checked = []
    for axis in axes:
        axis = np.asarray(axis, dtype=np.float64)
        steps = np.diff(axis)
        if axis.ndim != 1 or axis.size < 3 or not np.all(steps > 0) or not np.allclose(steps, steps[0], rtol=1e-9):
            raise ConfigError("every axis must be a uniform, increasing grid of at least 3 cell centres")
        checked.append(axis)
    return tuple(checked)


def closure_defect(environment: FixedEnvironment, q_template, free, axes, *, shift=1.0) -> float:
    """How much μ and Σ of the free coordinates depend on the other coordinates (0 for a closed choice).

    The free coordinates are evaluated on the grid with the other entries of Q at ``q_template`` and at
    ``q_template + shift``; the result is the largest change of μ (relative to max abs(μ)) or of Σ (relative to
    max abs(Σ)). A non-zero value means the grid's FPE is not the marginal of the full FPE (eq. 10).

    Parameters
    ----------
    environment : FixedEnvironment
    q_template : array_like, shape (state, action)
    free : sequence of (state, action)
    axes : sequence of ndarray
        Cell centres per free coordinate.
    shift : float
        Perturbation of the other entries.

    Returns
    -------
    float
    """
    template, pairs, flat = _check_free(free, q_template, environment.game)
    axes = _check_axes(axes, len(pairs))
    if len(pairs) == template.size:
        return 0.0
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(pairs))
    shifted = template + shift
    for s, a in pairs:
        shifted[s, a] = template[s, a]
    mu0, sigma0 = _free_moments(environment, template, pairs, flat, points)
    mu1, sigma1 = _free_moments(environment, shifted, pairs, flat, points)
    scale_mu = max(np.abs(mu0).max(), 1e-300)
    scale_sigma = max(np.abs(sigma0).max(), 1e-300)
    return float(max(np.abs(mu1 - mu0).max() / scale_mu, np.abs(sigma1 - sigma0).max() / scale_sigma))


# ----------------------------------------------------------------------------------------------
# the operator
# ----------------------------------------------------------------------------------------------
def _bernoulli(x):
    """Bern(x) = x / (eˣ - 1), with Bern(0) = 1 and no overflow."""
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) < 1e-6
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        value = np.where(small, 1.0 - x / 2.0, x / np.expm1(np.where(small, 1.0, x)))
    return np.where(np.isfinite(value), value, 0.0)


def fokker_planck_operator(
    environment: FixedEnvironment, q_template, free, axes, *, scheme="central"
) -> sparse.csr_matrix:
    """The finite-volume generator L of eq. (10) on the grid: dp/dt = L p (p flattened in C order).

    See the module docstring for the fluxes. Columns of L sum to zero (mass conservation).

    Parameters
    ----------
    environment : FixedEnvironment
    q_template : array_like, shape (state, action)
        Values of the entries of Q that are not on the grid.
    free : sequence of one or two (state, action)
        The entries of Q on the grid, in the order of ``axes``.
    axes : sequence of ndarray
        Cell centres per free coordinate (uniform, increasing).
    scheme : {"central", "exponential"}
        Normal fluxes: central (second order; needs cell Péclet numbers abs(w) <= 2, else ConfigError) or
        Scharfetter–Gummel / Chang–Cooper exponential fitting (positive for any w, first order in the
        advection-dominated regime: it adds a numerical diffusion D (w/2 coth(w/2) - 1) ≈ D w²/12).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_cells, n_cells)
    """
    if scheme not in ("central", "exponential"):
        raise ConfigError(f"scheme = {scheme!r} must be 'central' or 'exponential'")
    template, pairs, flat = _check_free(free, q_template, environment.game)
    axes = _check_axes(axes, len(pairs))
    dim = len(pairs)
    shape = tuple(axis.size for axis in axes)
    spacing = np.array([axis[1] - axis[0] for axis in axes])
    centres = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)  # (*shape, dim)
    _, sigma_centre = _free_moments(environment, template, pairs, flat, centres)  # (*shape, dim, dim)
    index = np.arange(np.prod(shape)).reshape(shape)
    rows, columns, values = [], [], []
    largest_peclet = 0.0

    def add(face_left, face_right, cells, coefficients, h):
        """Flux J = Σ coefficient · p[cell] through faces; it leaves ``face_left`` and enters ``face_right``."""
        rows.extend([face_left.ravel(), face_right.ravel()])
        columns.extend([cells.ravel(), cells.ravel()])
        values.extend([-coefficients.ravel() / h, coefficients.ravel() / h])

    for d in range(dim):
        h = spacing[d]
        left = [slice(None)] * dim
        right = [slice(None)] * dim
        left[d], right[d] = slice(0, -1), slice(1, None)
        left, right = tuple(left), tuple(right)
        faces = 0.5 * (centres[left] + centres[right])
        mu_face, _ = _free_moments(environment, template, pairs, flat, faces)
        sigma_left, sigma_right = sigma_centre[left][..., d, d], sigma_centre[right][..., d, d]
        diffusivity = 0.25 * (sigma_left + sigma_right)  # D = ½ Σ_dd at the face
        advection = mu_face[..., d] - 0.5 * (sigma_right - sigma_left) / h  # B = μ_d - ½ ∂_d Σ_dd
        positive = diffusivity > 1e-300
        safe = np.where(positive, diffusivity, 1.0)
        peclet = np.where(positive, advection * h / safe, np.inf)
        if scheme == "central":
            from_left = 0.5 * advection + diffusivity / h
            from_right = 0.5 * advection - diffusivity / h
        else:
            from_left = np.where(positive, safe / h * _bernoulli(-peclet), np.maximum(advection, 0.0))
            from_right = np.where(positive, -safe / h * _bernoulli(peclet), np.minimum(advection, 0.0))
        largest_peclet = max(largest_peclet, float(np.abs(peclet).max()))
        cell_left, cell_right = index[left], index[right]
        add(cell_left, cell_right, cell_left, from_left, h)
        add(cell_left, cell_right, cell_right, from_right, h)
        for e in range(dim):  # cross terms -½ ∂_e(Σ_de p), central, averaged over the two cells of the face
            if e == d:
                continue
            g = spacing[e]
            for side in (left, right):
                cell = index[side]
                cross = sigma_centre[side][..., d, e]
                for offset, sign in ((1, -1.0), (-1, 1.0)):
                    neighbour = np.roll(cell, -offset, axis=e)
                    valid = np.ones(cell.shape, dtype=bool)
                    edge = [slice(None)] * dim
                    edge[e] = -1 if offset == 1 else 0
                    valid[tuple(edge)] = False  # outside the box: density 0
                    sigma_neighbour = np.roll(cross, -offset, axis=e)
                    coefficient = np.where(valid, sign * 0.5 * sigma_neighbour / (4.0 * g), 0.0)
                    add(cell_left, cell_right, np.where(valid, neighbour, cell), coefficient, h)
    if scheme == "central" and largest_peclet > 2.0:
        raise ConfigError(
            f"cell Péclet number {largest_peclet:.3g} > 2: the central scheme would oscillate; refine the grid "
            "or use scheme='exponential'"
        )
    size = int(np.prod(shape))
    operator = sparse.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape=(size, size)
    )
    return operator.tocsr()


# ----------------------------------------------------------------------------------------------
# solving
# ----------------------------------------------------------------------------------------------
def _gaussian_cells(axes, mean, std):
    """Exact cell masses of a product of normals, normalised, as a density (per unit volume)."""
    masses = []
    for axis, m, s in zip(axes, mean, std, strict=True):
        h = axis[1] - axis[0]
        edges = np.append(axis - h / 2, axis[-1] + h / 2)
        masses.append(np.diff(ndtr((edges - m) / s)))
    mass = masses[0]
    for other in masses[1:]:
        mass = np.multiply.outer(mass, other)
    volume = np.prod([axis[1] - axis[0] for axis in axes])
    return mass / mass.sum() / volume


def _density_moments(axes, density):
    """Mass, mean (dim,), covariance (dim, dim) of a piecewise-constant density."""
    volume = np.prod([axis[1] - axis[0] for axis in axes])
    mass = density * volume
    total = mass.sum()
    grids = np.meshgrid(*axes, indexing="ij")
    mean = np.array([np.sum(mass * grid) / total for grid in grids])
    deviations = [grid - m for grid, m in zip(grids, mean, strict=True)]
    covariance = np.array([[np.sum(mass * a * b) / total for b in deviations] for a in deviations])
    covariance -= np.diag([(axis[1] - axis[0]) ** 2 / 12.0 for axis in axes])  # Sheppard's correction
    return total, mean, covariance


def _boundary_mass(axes, density):
    volume = np.prod([axis[1] - axis[0] for axis in axes])
    inner = density[tuple(slice(1, -1) for _ in axes)]
    return float(density.sum() * volume - inner.sum() * volume)


def solve_fokker_planck(
    environment: FixedEnvironment,
    q_template,
    free,
    axes,
    time,
    *,
    initial_mean,
    initial_std,
    dt=1.0,
    scheme="central",
) -> FokkerPlanckSolution:
    """Solve eq. (10) for the free coordinates of a focal agent in a fixed environment.

    Parameters
    ----------
    environment : FixedEnvironment
    q_template : array_like, shape (state, action)
    free : sequence of one or two (state, action)
        Must be closed (:func:`closure_defect` below 1e-12), else ConfigError.
    axes : sequence of ndarray
        Cell centres per free coordinate (uniform, increasing).
    time : array_like, shape (time,)
        Output times in simulator steps (from 0, increasing).
    initial_mean, initial_std : array_like, shape (dim,)
        The initial density: independent normals per free coordinate.
    dt : float
        Crank–Nicolson step in simulator steps (shortened to land on the output times).
    scheme : {"central", "exponential"}
        See :func:`fokker_planck_operator`.

    Returns
    -------
    FokkerPlanckSolution
    """
    template, pairs, _ = _check_free(free, q_template, environment.game)
    axes = _check_axes(axes, len(pairs))
    grid = np.asarray(time, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or grid[0] < 0 or np.any(np.diff(grid) <= 0):
        raise ConfigError("time must be increasing, from 0, in simulator steps")
    if not dt > 0:
        raise ConfigError(f"dt = {dt!r} must be positive")
    initial_mean = np.asarray(initial_mean, dtype=np.float64).reshape(-1)
    initial_std = np.asarray(initial_std, dtype=np.float64).reshape(-1)
    if initial_mean.shape != (len(pairs),) or initial_std.shape != (len(pairs),) or np.any(initial_std <= 0):
        raise ConfigError("initial_mean and initial_std need one value per free coordinate (std > 0)")
    defect = closure_defect(environment, template, pairs, axes)
    if defect > 1e-12:
        raise ConfigError(
            f"the free coordinates {pairs} are not closed (their μ, Σ change by {defect:.2g} with the other "
            "entries of Q), so their FPE is not a marginal of eq. (10); free all of Q (one state, two actions) "
            "or use β = 0 and γ = 0"
        )
    operator = fokker_planck_operator(environment, template, pairs, axes, scheme=scheme)
    shape = tuple(axis.size for axis in axes)
    density = _gaussian_cells(axes, initial_mean, initial_std).ravel()
    identity = sparse.identity(operator.shape[0], format="csc")
    factorised = {}

    def advance(p, step):
        key = round(step, 12)
        if key not in factorised:
            factorised[key] = (splu((identity - 0.5 * step * operator).tocsc()), identity + 0.5 * step * operator)
        solver, explicit = factorised[key]
        return solver.solve(explicit @ p)

    now = 0.0
    records = []
    for target in grid:
        while now < target - 1e-12:
            step = min(dt, target - now)
            density = advance(density, step)
            now += step
        records.append(density.reshape(shape).copy())
    densities = np.stack(records)
    moments = [_density_moments(axes, d) for d in densities]
    return FokkerPlanckSolution(
        time=grid,
        axes=axes,
        density=densities,
        mean=np.stack([m[1] for m in moments]),
        covariance=np.stack([m[2] for m in moments]),
        mass=np.array([m[0] for m in moments]),
        boundary_mass=np.array([_boundary_mass(axes, d) for d in densities]),
    )


def euler_maruyama_ensemble(
    environment: FixedEnvironment,
    q_template,
    free,
    time,
    *,
    initial_mean,
    initial_std,
    samples=4000,
    dt=1.0,
    seed=0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance over time of an Euler–Maruyama ensemble of eq. (5) with the same μ and Σ.

    Q_free ← Q_free + μ_free dt + √dt Σ_ff^{1/2} ξ (the other entries of Q stay at ``q_template``),
    independent members started from the same Gaussian as :func:`solve_fokker_planck`.

    Parameters
    ----------
    (as :func:`solve_fokker_planck`), and
    samples : int
        Ensemble size.
    dt : float
        Step in simulator steps (shortened to land on the output times); the weak error is O(dt).
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    mean : ndarray, shape (time, dim)
    covariance : ndarray, shape (time, dim, dim)
        Sample covariance (ddof = 1).
    """
    template, pairs, flat = _check_free(free, q_template, environment.game)
    grid = np.asarray(time, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or grid[0] < 0 or np.any(np.diff(grid) <= 0):
        raise ConfigError("time must be increasing, from 0, in simulator steps")
    if not dt > 0:
        raise ConfigError(f"dt = {dt!r} must be positive")
    rng = np.random.default_rng(seed)
    dim = len(pairs)
    points = np.asarray(initial_mean, dtype=np.float64) + np.asarray(initial_std, dtype=np.float64) * rng.normal(
        size=(int(samples), dim)
    )
    now = 0.0
    means, covariances = [], []
    for target in grid:
        while now < target - 1e-12:
            step = min(dt, target - now)
            mu, sigma = _free_moments(environment, template, pairs, flat, points)
            kick = np.einsum("nij,nj->ni", matrix_square_root(sigma), rng.normal(size=points.shape))
            points = points + mu * step + np.sqrt(step) * kick
            now += step
        means.append(points.mean(axis=0))
        covariances.append(np.atleast_2d(np.cov(points.T)))
    return np.stack(means), np.stack(covariances)
