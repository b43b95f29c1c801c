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


def train_steps(model, x, y, loss_fn, steps):
    """Seconds of each of `steps` training steps (zero_grad, forward, loss, backward, Adam at
    npcae's settings) after a warm-up one."""
    import torch
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, eps=1e-7)
    model.train()
    times = []
    for _ in range(steps + 1):                           # the first is the warm-up
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def photo_seconds(model, photo, repeats=3):
    """(eager, frozen): the fastest of `repeats` eval-mode forwards of one photo, and the same through
    torch.jit.freeze, which folds each batch norm into its convolution as npcae's inference copy
    does (npcae/models/folding.py): PyTorch's own best at the same trick."""
    import torch
    model.eval()
    with torch.no_grad():
        return (best_of(repeats, model, photo),
                best_of(repeats, torch.jit.freeze(torch.jit.trace(model, photo)), photo))
