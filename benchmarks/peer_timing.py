"""Timing shared by the PyTorch peers: plain Python, no npcae and no numpy, so a Python that has
only torch runs it (`python -m benchmarks.torch_unet_peer` imports it from this package)."""
import time


def best_of(repeats, model, photo):
    """The fastest of `repeats` forwards after a warm-up one (seconds), as npcae's benchmarks
    time theirs (benchmarks.common.best_time)."""
    model(photo)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(photo)
        times.append(time.perf_counter() - start)
    return min(times)
