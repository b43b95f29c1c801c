"""npcae keeps freed activation memory (allocator.py): after the first round, allocating and
freeing a 64 MB array again costs no page faults; NPCAE_MALLOC=system leaves malloc alone."""
import os
import subprocess
import sys

import pytest

PROBE = """
import resource, numpy as np, npcae
a = np.ones(1 << 24, np.float32); del a                       # 64 MB: above glibc's 32 MB cap
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    a = np.ones(1 << 24, np.float32); del a
print(npcae.MALLOC_TUNED, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(env_extra):
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_activation_memory_is_reused_without_page_faults():
    tuned, tuned_faults = faults({})
    untouched, system_faults = faults({"NPCAE_MALLOC": "system"})
    assert tuned and not untouched
    # Untouched, each 64 MB array is mapped and faulted in again: 16,384 faults of 4 kB pages,
    # or as few as 32 where the kernel maps 2 MB huge pages (2,720 seen for the five, and once
    # 165 when transparent huge pages took nearly all of them).
    assert system_faults >= 5 * 32
    assert tuned_faults < system_faults / 10
