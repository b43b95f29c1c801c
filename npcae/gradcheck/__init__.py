"""Gradient checks: core.py compares a layer's or loss's backward with five-point central
differences; cases.py is the catalogue (every layer, loss and a small CAE and U-Net); suite.py
runs a selection of it as one table (`npcae gradcheck`).

    report = check_layer(Conv2D(3, 4, 3), x)        # float64, a random upstream gradient
    assert report.max_error < 1e-6
"""
from .core import (DEFAULT_STEP, DEFAULT_TOLERANCE, FLOOR, ArrayCheck, GradCheckReport,
                   check_layer, check_loss, fixed_state, numerical_gradient, relative_error)
from .cases import CASES, Case
from .suite import UnknownCase, run, select

__all__ = ["check_layer", "check_loss", "numerical_gradient", "relative_error", "fixed_state",
           "ArrayCheck", "GradCheckReport", "DEFAULT_STEP", "DEFAULT_TOLERANCE", "FLOOR",
           "CASES", "Case", "select", "run", "UnknownCase"]
