"""npcae's benchmarks: run each from the repository's root as a module, e.g.
`python -m benchmarks.bench_step`, or all of them with `npcae bench`.

Imports nothing: the PyTorch peers (torch_peer, torch_unet_peer, torch_mobilenet_peer, and
peer_timing, which they share) are run as `python -m benchmarks.torch_peer` by a separate
Python that has torch and may not have npcae.
"""
