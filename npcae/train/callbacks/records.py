"""What a run writes down as it goes: the history CSV and the per-parameter gradient norms."""
import csv
import io
import os
import time

from ..options import DEFAULTS
from ...system.files import atomic_write
from ...diagnostics.trace import l2_norm
from ...models.containers import display_name
from .base import Callback, every


def write_csv(path, fields, rows, format_value=lambda v: v):
    text = io.StringIO()
    writer = csv.DictWriter(text, fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: format_value(v) for k, v in row.items()})
    atomic_write(path, lambda f: f.write(text.getvalue().encode()))


class History(Callback):
    """history.csv: one row per epoch with every entry of the epoch's logs, and the seconds it
    took. The columns are whatever keys appear, in first-seen order ("seconds" last); a row
    without a key (an epoch without validation) leaves it empty. Nothing is dropped."""

    name = "history"
    FILE = "history.csv"

    def __init__(self, out_dir):
        self.path = os.path.join(os.fspath(out_dir), self.FILE)
        self.rows, self._start, self._carried = [], None, 0.0

    def on_train_begin(self, trainer):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # Resumed mid-epoch: the epoch's seconds include those spent before the stop.
        self._start = time.perf_counter() - self._carried

    def on_epoch_begin(self, trainer):
        self._start = time.perf_counter()

    def on_epoch_end(self, trainer, logs):
        self.rows.append({**logs, "seconds": time.perf_counter() - self._start})
        self.write()

    def columns(self):
        keys = list(dict.fromkeys(key for row in self.rows for key in row if key != "seconds"))
        return keys + ["seconds"]

    def write(self):
        write_csv(self.path, self.columns(), self.rows,
                  lambda v: f"{v:.6g}" if isinstance(v, float) else v)

    def state_dict(self):
        elapsed = time.perf_counter() - self._start if self._start is not None else 0.0
        return {"rows": self.rows, "epoch_seconds_so_far": elapsed}

    def load_state_dict(self, state):
        self.rows = list(state["rows"])
        self._carried = state.get("epoch_seconds_so_far", 0.0)


class GradientNorms(Callback):
    """gradient_norms.csv: the L2 norm of every parameter's gradient (of the epoch's last batch)
    every `period` epochs, at the first and at the last; rows (epoch, name, norm). The name is
    the one shown (models/containers.display_name: "down2.conv1.W" in the U-Net, "3.W" in the
    CAE), and each name is a row of gradient_flow.png."""

    name = "gradient_norms"
    FILE = "gradient_norms.csv"

    def __init__(self, out_dir, *, period=DEFAULTS["grad_every"]):
        self.path = os.path.join(os.fspath(out_dir), self.FILE)
        self.period, self.rows = int(period), []

    def records(self, epoch, last):
        return bool(self.period) and (epoch == 1 or every(epoch, self.period, last))

    def on_train_begin(self, trainer):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # A checkpoint written before the U-Net named its layers holds rows under the stored
        # names ("6.0.7.W"): shown under the new ones, a resumed run draws each parameter once.
        model = trainer.model
        shown = {name: display_name(model, name) for name, _, _ in model.named_parameters()}
        new = set(shown.values())
        for row in self.rows:
            if row["name"] not in new:
                row["name"] = shown.get(row["name"], row["name"])

    def on_epoch_end(self, trainer, logs):
        # The optimiser leaves the gradients alone, so the model still holds the last batch's.
        if self.records(trainer.epoch, trainer.epochs):
            model = trainer.model
            self.rows += [{"epoch": trainer.epoch, "name": display_name(model, name),
                           "norm": l2_norm(grad)} for name, _, grad in model.named_parameters()]
            self.write()

    def on_train_end(self, trainer):
        if self.rows:
            self.write()

    def write(self):
        write_csv(self.path, ["epoch", "name", "norm"],
                  [{**row, "norm": f"{row['norm']:.8g}"} for row in self.rows])

    def state_dict(self):
        return {"rows": self.rows}

    def load_state_dict(self, state):
        self.rows = list(state["rows"])
