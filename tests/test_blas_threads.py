"""npcae sets OpenBLAS's thread timeout on import, before numpy loads OpenBLAS (blas_threads.py),
and leaves it alone when it cannot take effect or the user chose one."""
import os
import subprocess
import sys

import pytest


def probe(first, env_extra):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    code = (f"import {first}, npcae, os; "
            "print(npcae.BLAS_THREADS_SLEEP, os.environ.get('OPENBLAS_THREAD_TIMEOUT'))")
    out = subprocess.run([sys.executable, "-c", code], env={**env, **env_extra},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", out[1]


@pytest.mark.parametrize("first, env_extra, expected", [
    ("os", {}, (True, "4")),                                  # npcae first: set, in effect
    ("numpy", {}, (False, "None")),                           # too late: OpenBLAS has read it
    ("os", {"OPENBLAS_THREAD_TIMEOUT": "8"}, (False, "8")),   # the user's own choice stays
    ("numpy", {"OPENBLAS_THREAD_TIMEOUT": "4"}, (True, "4"))])
def test_the_blas_thread_timeout_is_set_only_where_it_takes_effect(first, env_extra, expected):
    assert probe(first, env_extra) == expected


def test_child_processes_can_have_the_environment_as_given():
    code = ("import os; os.environ.pop('OPENBLAS_THREAD_TIMEOUT', None); import npcae; "
            "from npcae.system.blas_threads import environment_as_given as given; "
            "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], 'OPENBLAS_THREAD_TIMEOUT' in given())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["4", "False"]
