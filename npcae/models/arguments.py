"""Checks of a model builder's arguments, before a layer is made: one BadInput naming the builder,
the argument and the value given ("unet: filters must be 2 or more positive integers (one per
level), got (4.5, 8)"), instead of a division by zero or a negative dimension deep inside, or a
value silently truncated by int().

A whole number may come as an int, a NumPy integer or an integral float (16.0, as a JSON file
may hold it); a bool is not taken for a number, nor is 4.5 rounded.
"""
import math
import numbers

import numpy as np

from ..layers.base import BadInput


def whole(value):
    """value as an int if it is a whole number (not a bool), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def positive_int(builder, name, value):
    """value as a positive int, or BadInput naming it."""
    number = whole(value)
    if number is None or number < 1:
        raise BadInput(f"{builder}: {name} must be a positive integer, got {value!r}")
    return number


def items(values):
    """The elements of a flat list, tuple or 1-D array as a list; None for anything else (a
    number, a string, a nested list)."""
    if isinstance(values, (str, bytes)):
        return None
    try:
        elements = list(values)
    except TypeError:
        return None
    return elements if all(np.ndim(v) == 0 for v in elements) else None


def positive_ints(builder, name, values, at_least):
    """values, at least `at_least` positive whole numbers (one per level), as a tuple of ints,
    or BadInput naming them."""
    elements = items(values)
    counts = None if elements is None else [whole(v) for v in elements]
    if counts is None or len(counts) < at_least or any(n is None or n < 1 for n in counts):
        raise BadInput(f"{builder}: {name} must be {at_least} or more positive integers (one "
                       f"per level), got {values!r}")
    return tuple(counts)


def kernel_size(builder, value):
    """A positive int or a pair of them, returned as given (Conv2D reads both forms)."""
    pair = [value, value] if np.ndim(value) == 0 and not isinstance(value, (str, bytes)) else items(value)
    if pair is None or len(pair) != 2 or any(whole(v) is None or whole(v) < 1 for v in pair):
        raise BadInput(f"{builder}: kernel_size must be a positive integer or a pair of them, "
                       f"got {value!r}")
    return value


def is_rate(value):
    return (not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real)
            and 0.0 <= value < 1.0)


def rate(builder, name, value):
    """A dropout rate in [0, 1), returned as given."""
    if not is_rate(value):
        raise BadInput(f"{builder}: {name} must be a rate in [0, 1), got {value!r}")
    return value


def rate_pair(builder, name, values):
    """Two dropout rates in [0, 1), returned as given."""
    pair = items(values)
    if pair is None or len(pair) != 2 or not all(is_rate(v) for v in pair):
        raise BadInput(f"{builder}: {name} must be a pair of rates in [0, 1), got {values!r}")
    return values
