"""What the person at the terminal sees and does: the progress bar, the first-step trace, Ctrl-C."""
import os
import signal
import time

from ...diagnostics.trace import Tracer, write_trace
from .base import Callback


class StepRate:
    """Steps a second for the progress bar's ETA, timed from the end of the first `warmup` steps
    of a fit(), and None until `timed` steps after those have ended.

    The first step compiles Numba's kernels: timed from the start, tqdm promised 1:38:12 in the
    first epoch of a 5-minute run. Averaged over every step since the warm-up (the validations
    between epochs included), the estimate is the run's own pace, not a guess from one step.

        rate = StepRate(clock);  ...each step: rate.step()...;  rate() -> steps/s or None
    """

    def __init__(self, clock=time.perf_counter, warmup=1, timed=3):
        if warmup < 1:
            raise ValueError(f"warmup counts steps from the first, at least 1; got {warmup}")
        self.clock, self.warmup, self.timed = clock, int(warmup), int(timed)
        self.steps, self.start, self.last = 0, None, None

    def step(self):
        """Note that a step has ended."""
        self.steps += 1
        self.last = self.clock()
        if self.steps == self.warmup:
            self.start = self.last

    def __call__(self):
        timed = self.steps - self.warmup
        if timed < self.timed or self.last <= self.start:
            return None
        return timed / (self.last - self.start)


def progress_bar(rate, **tqdm_args):
    """A tqdm bar whose rate, and so its ETA, is rate() (a StepRate): "?" while that is None."""
    from tqdm import tqdm            # 27 ms: imported when a bar is made, not with npcae

    class Bar(tqdm):
        @property
        def format_dict(self):       # what tqdm formats the bar from (its "public API")
            return {**super().format_dict, "rate": rate() or 0}     # 0: tqdm shows "?"

    return Bar(**tqdm_args)


class ProgressBar(Callback):
    """A tqdm bar over every batch of the run, showing the last train loss and the held-out
    figure the task puts first (IoU for masks), and an ETA once StepRate has one."""

    def __init__(self, clock=time.perf_counter, **tqdm_args):
        self.clock, self.tqdm_args = clock, tqdm_args

    def on_train_begin(self, trainer):
        steps = trainer.loader.steps_per_epoch
        unit = "epoch" if steps == 1 else "batch"
        self.rate = StepRate(self.clock)
        self.bar = progress_bar(self.rate, total=trainer.epochs * steps,
                                initial=trainer.epoch * steps + trainer.batch, unit=unit,
                                dynamic_ncols=True, **self.tqdm_args)
        self.shown = {}

    def on_batch_end(self, trainer, logs):
        self.rate.step()
        self.bar.update(1)

    def on_epoch_end(self, trainer, logs):
        # The held-out figure stays shown between validations (set_postfix replaces them all).
        for key in ("train_loss", f"heldout_{trainer.task.headline[0]}"):
            if key in logs:
                self.shown[key] = f"{logs[key]:.4f}"
        self.bar.set_postfix(self.shown, refresh=False)

    def on_train_end(self, trainer):
        self.bar.close()


class TraceFirstStep(Callback):
    """Trace the first batch fit() runs, layer by layer (npcae/diagnostics/trace.py): log the table and
    write trace.txt, trace.json and trace.csv into `out_dir`."""

    def __init__(self, out_dir):
        self.out_dir, self.tracer, self.trace = out_dir, None, None    # trace: the StepTrace

    def on_batch_begin(self, trainer):
        if self.trace is None:
            self.tracer = Tracer(trainer.model).__enter__()

    def on_batch_end(self, trainer, logs):
        if self.tracer is None:
            return
        self.tracer.__exit__(None, None, None)
        trace, self.tracer = self.tracer.trace, None
        self.trace = trace
        trace.loss, trace.epoch = float(logs["loss"]), trainer.epoch + 1
        os.makedirs(self.out_dir, exist_ok=True)
        paths = write_trace(trace, self.out_dir)
        trainer.log(f"{trace.table()}\nwrote {', '.join(paths)}")

    def on_train_end(self, trainer):
        if self.tracer is not None:            # the traced step failed: take the hooks off
            self.tracer.__exit__(RuntimeError, None, None)
            self.tracer = None


class StopOnInterrupt(Callback):
    """Ctrl-C, or SIGTERM (what `timeout`, `kill` and job schedulers send), asks the trainer to
    stop after the batch under way (a Checkpoint then saves the position); a second one during
    training stops at once, but one while the final checkpoint is written waits for it.
    Installed only over the default handlers, and taken off last (order 2), after the
    checkpoint is written. `terminated` tells a SIGTERM's stop from a Ctrl-C's (the command
    line exits 143 then, so a scheduler sees the job did not finish)."""

    order, installed, terminated = 2, (), False
    DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}

    def on_train_begin(self, trainer):
        self.previous = {signum: signal.getsignal(signum) for signum in self.DEFAULTS}
        self.installed = tuple(signum for signum, default in self.DEFAULTS.items()
                               if self.previous[signum] is default)
        for signum in self.installed:
            signal.signal(signum, lambda signum, frame: self._interrupt(trainer, signum))

    def _interrupt(self, trainer, signum=signal.SIGINT):
        if trainer.status != "running":          # fit() is ending: the checkpoint is being written
            trainer.log("\nwriting the checkpoint first; it takes a moment")
            return
        if trainer.stop_requested:
            raise KeyboardInterrupt
        self.terminated = signum == signal.SIGTERM
        what = "terminated (SIGTERM)" if self.terminated else "interrupted"
        trainer.log(f"\n{what}: finishing this batch and writing a checkpoint "
                    "(Ctrl-C again to abort)")
        trainer.request_stop()

    def on_train_end(self, trainer):
        for signum in self.installed:
            signal.signal(signum, self.previous[signum])
