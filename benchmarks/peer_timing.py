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


def measure(model, args, loss_fn):
    """What a peer prints (a dict for one JSON line): with args.photo_only, the photo alone, the
    fastest of that many forwards in a process that trains nothing; else args.steps training
    steps on a batch of args.batch at args.size, then the photo, and the process's peak."""
    import resource

    import torch
    impl = f"torch {torch.__version__}"
    photo = torch.rand(1, 3, *(int(v) for v in args.photo.split("x")))
    if args.photo_only:
        inference, frozen = photo_seconds(model, photo, args.photo_only)
        return {"impl": impl, "inference_s": inference, "inference_frozen_s": frozen}
    height, width = (int(v) for v in args.size.split("x"))
    x = torch.rand(args.batch, 3, height, width)
    y = (torch.rand(args.batch, 1, height, width) > 0.7).float()
    steps = train_steps(model, x, y, loss_fn, args.steps)
    inference, frozen = photo_seconds(model, photo)
    return {"impl": impl, "steps_s": steps, "inference_s": inference, "inference_frozen_s": frozen,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
