"""The theory methods as small frozen option objects: ``predict(config, Particles(n=64))``.

Each method of :func:`marldyn.theory.theory` is a frozen dataclass holding exactly the options that method
uses, validated when it is built (the way diffrax passes ``saveat=SaveAt(...)``): an option a method does not
take cannot be given, and a bad value fails at once with a one-line :class:`~marldyn.errors.ConfigError`
naming the field. Names stay as shortcuts for the defaults: ``theory(config, "particles")`` is
``theory(config, Particles())``, and :func:`method_from_name` builds an object from a name and options (the
command line's flags and a sweep task's keys go through it).

==================  =====================  =========================================================
name                object                 options (default)
==================  =====================  =========================================================
``reduced``         :class:`Reduced`       none
``full``            :class:`Full`          none
``full-discrete``   :class:`FullDiscrete`  none
``particles``       :class:`Particles`     ``n`` (None: the number of agents, at most 512; keyword
                                           ``particles``), ``timescale`` ("reduced")
``sde``             :class:`SDE`           ``dt`` (10.0 simulator steps)
``sde-graph``       :class:`GraphSDE`      ``dt`` (1.0), ``timescale`` ("reduced"), ``noise`` (True)
``lna``             :class:`LNA`           none
``closure``         :class:`Closure`       ``timescale`` ("reduced"), ``dt`` (10, full only),
                                           ``correlations`` (True), ``order`` (None: automatic)
==================  =====================  =========================================================
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..errors import ConfigError, did_you_mean

__all__ = [
    "DEFAULT_MAX_PARTICLES",
    "Closure",
    "LNA",
    "METHODS",
    "METHOD_CLASSES",
    "SDE",
    "TIMESCALES",
    "Full",
    "FullDiscrete",
    "GraphSDE",
    "Particles",
    "Reduced",
    "TheoryMethod",
    "as_method",
    "method_from_name",
]

TIMESCALES = ("reduced", "full")
#: ``Particles(n=None)`` uses one particle per agent, at most this many.
DEFAULT_MAX_PARTICLES = 512


# ----------------------------------------------------------------------------------------------
# validation of one field (one-line errors naming ``Class.field``)
# ----------------------------------------------------------------------------------------------
def _positive_int_or_none(owner: str, name: str, value):
    if value is None:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{owner}.{name} = {value!r} must be a positive integer (or None for the default)")
    return int(value)


def _positive_finite(owner: str, name: str, value) -> float:
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{owner}.{name} = {value!r} must be a positive finite number")
    return float(value)


def _timescale(owner: str, name: str, value) -> str:
    if not isinstance(value, str) or value not in TIMESCALES:
        raise ConfigError(
            f"{owner}.{name} = {value!r} must be one of {', '.join(TIMESCALES)}{did_you_mean(value, TIMESCALES)}"
        )
    return value


def _boolean(owner: str, name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(f"{owner}.{name} = {value!r} must be true or false")
    return bool(value)


# ----------------------------------------------------------------------------------------------
# the methods
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TheoryMethod:
    """Base class of the theory methods: a name and the validated options of that method.

    Subclasses are frozen dataclasses whose fields are the method's options; ``name`` is the method's
    name in :data:`METHODS` (``--method`` on the command line, ``method`` in a sweep task) and
    ``aliases`` maps other accepted keyword spellings to fields (``particles`` -> ``Particles.n``).

    Examples
    --------
    >>> from marldyn.theory import Particles, TheoryMethod
    >>> method = Particles(n=64)
    >>> isinstance(method, TheoryMethod), method.name, method.options()
    (True, 'particles', {'n': 64, 'timescale': 'reduced'})
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        if not type(self).name:
            raise TypeError("TheoryMethod is a base class; use Reduced(), Particles(n=...), SDE(dt=...), ...")

    def options(self) -> dict:
        """The options as a dict, field name -> value (JSON-ready; what the Dataset attrs record)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}

    @classmethod
    def keywords(cls) -> tuple[str, ...]:
        """Every accepted keyword spelling of the options: the aliases, then the fields."""
        return (*cls.aliases, *(item.name for item in fields(cls)))

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)  # normalise a validated value of a frozen instance


@dataclass(frozen=True)
class Reduced(TheoryMethod):
    """Point mass at the initial table with stationary edge states (time-scale separation, eqs. 18-19).

    dQ/dt = μ*(Q) = μ(Q; X̃ = X(Q), p*(Q, Q)), with μ(s, a) = α [1 - (1 - p(s))^k] X(s, a) δ̄(s, a) (eq. 9)
    and p* the stationary distribution of the edge chain λ(X, X) (eq. 18). The initial noise is ignored; on
    a graph whose degrees differ there is one point mass per degree class, coupled as particles.
    No options.

    Examples
    --------
    >>> from marldyn.theory import Reduced, method_from_name
    >>> Reduced() == method_from_name("reduced")
    True
    """

    name: ClassVar[str] = "reduced"


@dataclass(frozen=True)
class Full(TheoryMethod):
    """Point mass with the edge-state distribution as a second ODE variable (eq. 15 without diffusion).

    dp/dt = p (λ(X, X) - I),  dQ/dt = μ(Q; X̃ = X(Q), p). No options.

    Examples
    --------
    >>> from marldyn.theory import Full
    >>> Full().name
    'full'
    """

    name: ClassVar[str] = "full"


@dataclass(frozen=True)
class FullDiscrete(TheoryMethod):
    """The exact expected one-step map of the point mass and its edge-state distribution (eqs. 9, 12-14).

    Q_{t+1} = Q_t + μ(Q_t; p_t),  p_{t+1} = p_t λ(Q_t): no continuum limit, no time-scale separation
    (large α). No options.

    Examples
    --------
    >>> from marldyn.theory import FullDiscrete
    >>> FullDiscrete().name
    'full-discrete'
    """

    name: ClassVar[str] = "full-discrete"


@dataclass(frozen=True)
class Particles(TheoryMethod):
    """Heterogeneous population of P particles coupled by the pair approximation (eqs. 11, 19-20).

    dQ_p/dt = μ(Q_p; X̃_p, p_p) with p_p(s) = Σ_q v_q p(s | Q_p, Q_q), v_q = w_q k_q / Σ w k (eq. 11) and
    X̃_p the neighbour policy averaged with the pair's edge-state weights (eq. 20). The particles are drawn
    from the initial distribution (scrambled Sobol points) with degrees at the quantiles of the graph's.

    Parameters
    ----------
    n : int, optional
        The number of particles P (keyword ``particles`` in ``theory(...)``, ``--particles`` on the command
        line and in a sweep task). Default: the number of agents, at most 512.
    timescale : {"reduced", "full"}
        ``reduced``: every pair's edge states at the stationary distribution p*(Q_p, Q_q) (eq. 19);
        ``full``: every pair's distribution moved by λ(Q_p, Q_q) once per simulator step (eq. 15).

    Raises
    ------
    ConfigError
        ``n`` not a positive integer or None, ``timescale`` not one of the two.

    Examples
    --------
    >>> from marldyn.theory import Particles
    >>> Particles(n=64)
    Particles(n=64, timescale='reduced')
    >>> Particles().count(n_agents=100), Particles().count(n_agents=10_000)
    (100, 512)
    """

    name: ClassVar[str] = "particles"
    aliases: ClassVar[dict[str, str]] = {"particles": "n"}
    n: int | None = None
    timescale: str = "reduced"

    def __post_init__(self) -> None:
        self._set("n", _positive_int_or_none("Particles", "n", self.n))
        self._set("timescale", _timescale("Particles", "timescale", self.timescale))

    def count(self, n_agents: int) -> int:
        """P for a population of ``n_agents``: ``n``, or ``min(n_agents, DEFAULT_MAX_PARTICLES)``."""
        return self.n if self.n is not None else min(int(n_agents), DEFAULT_MAX_PARTICLES)


@dataclass(frozen=True)
class SDE(TheoryMethod):
    """Ensemble of particle populations with the exact one-step diffusion Σ (eq. 5, Euler–Maruyama).

    Every one of the ``[run] runs`` members is a population of N particles (the simulator's own initial
    draws and the agents' degrees), each following Q_p ← Q_p + μ_p dt + √dt Σ_p^{1/2} ξ with μ_p (eq. 9) and
    the exact Σ_p for its own neighbourhood under the pair approximation at stationary pairs.

    Parameters
    ----------
    dt : float
        Euler–Maruyama step in simulator steps (1 reproduces the first two moments of one simulator step
        exactly; the default 10 is 10x cheaper).

    Raises
    ------
    ConfigError
        ``dt`` not a positive finite number.

    Examples
    --------
    >>> from marldyn.theory import SDE
    >>> SDE(dt=1)
    SDE(dt=1.0)
    """

    name: ClassVar[str] = "sde"
    dt: float = 10.0

    def __post_init__(self) -> None:
        self._set("dt", _positive_finite("SDE", "dt", self.dt))


@dataclass(frozen=True)
class GraphSDE(TheoryMethod):
    """One SDE per agent on the actual graph (eqs. 5, 9, 12-15, 18-20; :mod:`marldyn.theory.graph_sde`).

    Every agent i has its own Q_i, its actual neighbours and edges: Q_i ← Q_i + μ_i dt + √dt L_i ξ_i with
    L_i L_iᵀ = Σ_i, μ_i = μ(Q_i, X̃_i, p(· | i), k_i) and the exact one-step Σ_i; one member per ``[run]``.

    Parameters
    ----------
    dt : float
        Euler–Maruyama step in simulator steps. The default 1 gives increments with exactly the mean and
        covariance of one simulator step of each agent; 10 is ~10x faster and close on slow dynamics
        (docs/fluctuations.md).
    timescale : {"reduced", "full"}
        Edge-state distributions stationary for the current pair of policies (eqs. 12, 18), or moved by the
        pair's one-step map once per simulator step (eqs. 13-15).
    noise : bool
        False drops the diffusion: the deterministic per-agent system on the graph.

    Raises
    ------
    ConfigError
        ``dt`` not a positive finite number, ``timescale`` not one of the two, ``noise`` not a bool.

    Examples
    --------
    >>> from marldyn.theory import GraphSDE
    >>> GraphSDE(dt=1.0, timescale="full")
    GraphSDE(dt=1.0, timescale='full', noise=True)
    """

    name: ClassVar[str] = "sde-graph"
    dt: float = 1.0
    timescale: str = "reduced"
    noise: bool = True

    def __post_init__(self) -> None:
        self._set("dt", _positive_finite("GraphSDE", "dt", self.dt))
        self._set("timescale", _timescale("GraphSDE", "timescale", self.timescale))
        self._set("noise", _boolean("GraphSDE", "noise", self.noise))


@dataclass(frozen=True)
class LNA(TheoryMethod):
    """Linear-noise approximation around the homogeneous fixed point Q* (:mod:`marldyn.theory.lna`).

    Q* is the root of δ̄ nearest the initial table; the stationary spread across agents (``q_std``) and of
    the population mean across runs (``q_mean_std``) solve the discrete Lyapunov equation of the
    linearised per-agent dynamics per Fourier mode / Laplacian eigenvector. With agent types that move the fixed
    point (committed agents; another β, ε, γ or TD target) every learner sits at its own Q*_i
    (:mod:`marldyn.theory.agent_lna`). No options.

    Examples
    --------
    >>> from marldyn.theory import LNA
    >>> LNA().name
    'lna'
    """

    name: ClassVar[str] = "lna"


@dataclass(frozen=True)
class Closure(TheoryMethod):
    """Gaussian moment closure of the population on the graph (:mod:`marldyn.theory.closure`).

    Deterministic: the mean m(t) of Q and the covariance of the agents' deviations per adjacency eigenvalue
    (one agent's spread and its correlation with its neighbours), closed at second order (docs/closure.md);
    on a graph whose degrees differ, one Gaussian per degree class, and with agent types (Boltzmann or
    committed) one per (type, degree) class (mean field). ε-greedy learners and types (reduced time scale): the
    cubature's cells are cut by the switching surfaces (docs/closure.md section 7).
    Reports ``q_std`` and the predicted skewness and excess kurtosis of every entry (a warning where the
    population is far from Gaussian).

    Parameters
    ----------
    timescale : {"reduced", "full"}
        ``reduced``: stationary pair distributions, an adaptive ODE; ``full``: every cubature pair carries
        its edge-state distribution, moved by its one-step map, in steps of ``dt``.
    dt : float
        Step of the full time scale, a whole number of simulator steps (default 10; 1 is the exact one-step
        moment map). Ignored by ``reduced``.
    correlations : bool
        Keep the noise that neighbours share (a common edge, a common neighbour); False drops it (required
        for SARSA).
    order : int, optional
        Gauss–Hermite nodes per within-state contrast (0: the degree-3 symmetric rule; default automatic);
        with ε-greedy, Gauss nodes per cell piece and contrast (≥ 1).

    Raises
    ------
    ConfigError
        A bad option value.

    Examples
    --------
    >>> from marldyn.theory import Closure
    >>> Closure(timescale="full", dt=5)
    Closure(timescale='full', dt=5.0, correlations=True, order=None)
    """

    name: ClassVar[str] = "closure"
    timescale: str = "reduced"
    dt: float = 10.0
    correlations: bool = True
    order: int | None = None

    def __post_init__(self) -> None:
        self._set("timescale", _timescale("Closure", "timescale", self.timescale))
        self._set("dt", _positive_finite("Closure", "dt", self.dt))
        if self.dt != int(self.dt):
            raise ConfigError(f"Closure.dt = {self.dt!r} must be a whole number of simulator steps")
        self._set("correlations", _boolean("Closure", "correlations", self.correlations))
        if self.order is not None and (
            isinstance(self.order, bool | np.bool_) or not isinstance(self.order, numbers.Integral) or self.order < 0
        ):
            raise ConfigError(f"Closure.order = {self.order!r} must be a non-negative integer (or None)")
        if self.order is not None:
            self._set("order", int(self.order))


#: Method name -> class, in the order of :data:`METHODS`.
METHOD_CLASSES: dict[str, type[TheoryMethod]] = {
    cls.name: cls for cls in (Reduced, Full, FullDiscrete, Particles, SDE, GraphSDE, LNA, Closure)
}
#: The method names (``--method``; strings accepted by :func:`marldyn.theory.theory`).
METHODS = tuple(METHOD_CLASSES)


def method_from_name(name: str, **options) -> TheoryMethod:
    """The method object of a name with the given options (by field name or keyword alias).

    Parameters
    ----------
    name : str
        One of :data:`METHODS`.
    **options
        The method's options, e.g. ``n=64`` or ``particles=64`` for ``particles``; the rest keep the
        defaults of the class.

    Returns
    -------
    TheoryMethod

    Raises
    ------
    ConfigError
        An unknown name (with a "did you mean"), an option the method does not take (naming the option, the
        method and the methods that take it), or a bad value.

    Examples
    --------
    >>> from marldyn.theory import method_from_name
    >>> method_from_name("particles", particles=64, timescale="full")
    Particles(n=64, timescale='full')
    >>> method_from_name("reduced", dt=5.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: method 'reduced' does not take the option 'dt' (it has no options); ...
    """
    cls = METHOD_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigError(f"method = {name!r} must be one of {', '.join(METHODS)}{did_you_mean(name, METHODS)}")
    field_names = [item.name for item in fields(cls)]
    resolved: dict = {}
    for key, value in options.items():
        field_name = cls.aliases.get(key, key)
        if field_name not in field_names:
            spellings = cls.keywords()
            takes = f"its options: {', '.join(spellings)}" if spellings else "it has no options"
            others = [other.name for other in METHOD_CLASSES.values() if key in other.keywords()]
            where = f"; {key} is an option of {', '.join(others)}" if others else did_you_mean(key, spellings)
            raise ConfigError(f"method {name!r} does not take the option {key!r} ({takes}){where}")
        if field_name in resolved:
            raise ConfigError(f"method {name!r}: {cls.__name__}.{field_name} is given twice ({key!r} is an alias)")
        resolved[field_name] = value
    return cls(**resolved)


def as_method(method: str | TheoryMethod, **options) -> TheoryMethod:
    """A method object from a name and options, or the object itself (then no options may be given).

    Parameters
    ----------
    method : str or TheoryMethod
    **options
        Only with a name: the options of :func:`method_from_name`.

    Returns
    -------
    TheoryMethod

    Raises
    ------
    ConfigError
        Options given with an object, or anything :func:`method_from_name` refuses.

    Examples
    --------
    >>> from marldyn.theory import SDE, as_method
    >>> as_method("sde", dt=2.0) == as_method(SDE(dt=2.0))
    True
    """
    if isinstance(method, TheoryMethod):
        if options:
            raise ConfigError(
                f"method = {method!r} already holds its options; give {', '.join(sorted(options))} in the object "
                f"({type(method).__name__}(...)), not as extra keywords"
            )
        return method
    if isinstance(method, str):
        return method_from_name(method, **options)
    raise ConfigError(
        f"method = {method!r} must be a method name ({', '.join(METHODS)}) or a TheoryMethod such as Particles(n=64)"
    )
