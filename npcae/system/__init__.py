"""Plumbing between npcae and the machine: the allocator and BLAS threads (set before numpy
loads), files written atomically, the disk reserve that lets a full disk end a run cleanly, and
the lock that keeps two runs out of one folder. Nothing here knows about models or data."""
