"""Theory: edge-state Markov chain, drift and diffusion, homogeneous and heterogeneous populations, SDE.

:func:`theory` (= :func:`marldyn.predict`) is the entry point; its methods are the option objects of
:mod:`marldyn.theory.methods` (``theory(config, Particles(n=64))``), or their names for the defaults.
"""

from .entry import theory
from .methods import (
    LNA,
    METHODS,
    SDE,
    Closure,
    Full,
    FullDiscrete,
    GraphSDE,
    Particles,
    Reduced,
    TheoryMethod,
    as_method,
    method_from_name,
)

__all__ = [
    "LNA",
    "METHODS",
    "SDE",
    "Closure",
    "Full",
    "FullDiscrete",
    "GraphSDE",
    "Particles",
    "Reduced",
    "TheoryMethod",
    "as_method",
    "method_from_name",
    "theory",
]
