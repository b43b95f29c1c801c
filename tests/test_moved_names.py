"""npcae 0.1's flat module names (npcae.experiment, npcae.memory, ...) still import, with one
DeprecationWarning naming the new place, and names renamed in the move answer to the old one."""
import importlib
import sys
import warnings

import pytest

from npcae import _moved


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_an_old_module_warns_once_and_is_the_new_one(old, monkeypatch):
    monkeypatch.delitem(sys.modules, f"npcae.{old}", raising=False)
    with pytest.warns(DeprecationWarning, match=rf"npcae\.{old} moved to npcae\.{_moved.MOVED[old]}"):
        shim = importlib.import_module(f"npcae.{old}")
    new = importlib.import_module(f"npcae.{_moved.MOVED[old]}")
    public = [name for name in dir(new) if not name.startswith("_")]
    assert public, new
    for name in public:
        assert getattr(shim, name) is getattr(new, name)


@pytest.mark.parametrize("old_module, old_name", sorted(_moved.RENAMED))
def test_a_renamed_name_answers_to_its_old_one(old_module, old_name):
    new_module, new_name = _moved.RENAMED[old_module, old_name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)     # warned above, once per module
        shim = importlib.import_module(f"npcae.{old_module}")
    assert getattr(shim, old_name) is getattr(importlib.import_module(f"npcae.{new_module}"), new_name)


def test_a_name_never_moved_is_still_an_import_error():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("npcae.no_such_module")
    with warnings.catch_warnings(), pytest.raises(AttributeError):
        warnings.simplefilter("ignore", DeprecationWarning)
        importlib.import_module("npcae.memory").no_such_name
