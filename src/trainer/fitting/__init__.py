"""One fixed target: the seed's ``Fitter`` and the compact ``Simulator``."""

from .fitter import FitResult, Fitter
from .simulator import Simulator

__all__ = sorted(['FitResult', 'Fitter', 'Simulator'])
