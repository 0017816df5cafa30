"""One fixed target: the seed's ``Fitter`` and the compact ``Simulator``."""

from .fitter import Fitter
from .many_result import ManyFitResult
from .result import FitResult
from .simulator import Simulator

__all__ = sorted(['FitResult', 'Fitter', 'ManyFitResult', 'Simulator'])
