"""Layer state as named arrays: how weights files and checkpoints store it, and how it comes back.

A layer's state (`Layer.add_state`) holds non-trainable values: arrays (a running mean) and
random generators (Dropout's). Stored, each becomes one array:

    ndarray                 ->  a copy of it
    np.random.Generator     ->  a 0-d unicode array, json.dumps(rng.bit_generator.state)

The JSON is the bit generator's whole state (PCG64's 128-bit integers are exact in JSON; an
MT19937's key array is written as a list), so any bit generator comes back exactly. Restoring
writes into the objects the layer already holds: `value[...] = stored` for an array,
`rng.bit_generator.state = ...` for a generator.

WeightsMismatch lives here, not in models/io.py, so that layers (load_state_arrays) and
models/io.py (load_weights) raise the same error without importing each other.
"""
import json

import numpy as np

from ..errors import InputError


class WeightsMismatch(InputError):
    """The weights (or state) in a file do not fit the model they are loaded into."""


def encode(value):
    """A state entry as the array that stores it: a copy, or a generator's state as JSON."""
    if isinstance(value, np.random.Generator):
        state = value.bit_generator.state
        return np.array(json.dumps(state, default=lambda array: array.tolist()))
    return np.array(value, copy=True)


def kind(value):
    """What a state entry (or parameter) needs a stored array to match: its shape, or for a
    generator the name of its bit generator."""
    if isinstance(value, np.random.Generator):
        return f"a {type(value.bit_generator).__name__} generator"
    return np.shape(value)


def decode(stored):
    """(kind, what restore() writes) for a stored array: (shape, the array), or for one that
    holds a generator's JSON ("a PCG64 generator", its state as a dict)."""
    stored = np.asarray(stored)
    if stored.dtype.kind != "U":
        return stored.shape, stored
    try:
        state = json.loads(stored.item())
        return f"a {state['bit_generator']} generator", state
    except (ValueError, TypeError, KeyError):
        return "text", None


def fit(expected, stored, what):
    """{name: what restore() writes} for every entry of `expected` (name -> array or Generator),
    decoded from `stored` (name -> array), after checking that both have the same names and
    each pair the same kind (shape, bit generator). Otherwise raises WeightsMismatch("<what>
    ..."): names missing or unexpected first (up to three of each, sorted), then the first
    entry, in the model's order, whose kind differs.
    """
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise WeightsMismatch(f"{what} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    decoded = {}
    for name, value in expected.items():
        stored_kind, decoded[name] = decode(stored[name])
        if stored_kind != kind(value):
            raise WeightsMismatch(f"{what}: {name} is {stored_kind}, "
                                  f"the model needs {kind(value)}")
    return decoded


def restore(value, decoded):
    """Write a decoded stored value into the state entry (or parameter) `value`, in place."""
    if isinstance(value, np.random.Generator):
        value.bit_generator.state = decoded
    else:
        value[...] = decoded
