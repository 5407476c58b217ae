"""Theory: edge-state Markov chain, drift and diffusion, homogeneous and heterogeneous populations, SDE."""

from .entry import METHODS, theory

__all__ = ["METHODS", "theory"]
