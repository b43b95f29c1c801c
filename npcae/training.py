"""The training loop of the original experiment: one batch of all training frames per epoch,
Adam, validation every N epochs, history, snapshots, checkpoints and exact resume.

    trainer = Trainer(run, train_record, heldout_record, "runs/demo")
    trainer.fit()

`run` is a plain dict of settings (see DEFAULTS) so it can be stored in the checkpoint and a
resumed run continues with exactly the settings it started with.

Every `grad_every` epochs (and at the first and the last) the L2 norm of each parameter's
gradient goes into gradient_norms.csv (epoch, name, norm), for the gradient-flow plot.
`fit(trace=True)` traces the first step it runs, layer by layer (npcae/trace.py), into
trace.txt, trace.json and trace.csv.
"""
import contextlib
import csv
import io
import json
import math
import os
import signal
import time

import numpy as np

from . import metrics
from .checkpoint import CHECKPOINT, read_checkpoint, restore, save_checkpoint
from .losses import get_loss
from .models import atomic_write, cae
from .optim import Adam
from .trace import Tracer, l2_norm, write_trace

DEFAULTS = dict(epochs=500, lr=5e-4, filters=[4, 32, 256], loss="dice+focal", seed=0,
                val_every=10, checkpoint_every=50, snapshot_every=50, augment=False,
                eval_batch=3, dropout=[0.1, 0.25], activation="swish", grad_every=10)
HISTORY_FIELDS = ["epoch", "train_loss", "train_accuracy", "heldout_loss", "heldout_accuracy",
                  "heldout_iou", "heldout_dice", "train_eval_accuracy", "train_eval_iou",
                  "train_eval_dice", "all_accuracy", "all_iou", "all_dice", "seconds"]
GRADIENT_NORMS = "gradient_norms.csv"
GRADIENT_FIELDS = ["epoch", "name", "norm"]


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number."""


def set_metrics(pred, target, prefix):
    """Pooled accuracy, IoU and Dice of a set of frames, keyed "<prefix>_accuracy" etc."""
    return {f"{prefix}_accuracy": metrics.pixel_accuracy(pred, target),
            f"{prefix}_iou": metrics.iou(pred, target), f"{prefix}_dice": metrics.dice(pred, target)}


def predict(model, images, batch=3):
    """Inference-mode predictions, `batch` images at a time (bounds the im2col memory)."""
    return np.concatenate([model.forward(images[i:i + batch]) for i in range(0, len(images), batch)])


class Trainer:
    def __init__(self, run, train, heldout, out_dir, progress=True, log=print):
        self.run = {**DEFAULTS, **run}
        self.train, self.heldout = train, heldout
        self.out_dir, self.progress, self.log = os.fspath(out_dir), progress, log
        self.model = cae(filters=self.run["filters"], dropout=self.run["dropout"],
                         activation=self.run["activation"], seed=self.run["seed"])
        self.loss = get_loss(self.run["loss"])
        self.optimizer = Adam(self.model.named_parameters(), lr=self.run["lr"])
        self.augmenter = None
        if self.run["augment"]:
            from .data import Augmenter
            self.augmenter = Augmenter(seed=self.run["seed"])
        self.epoch, self.history, self.snapshots = 0, [], {}
        self.gradient_norms = []         # {"epoch", "name", "norm"} per parameter, recorded epochs
        self.last_trace = None
        self._stop_requested = False

    # -- state ------------------------------------------------------------------------------
    @property
    def checkpoint_path(self):
        return os.path.join(self.out_dir, CHECKPOINT)

    def save(self):
        augment_state = self.augmenter.state() if self.augmenter else None
        save_checkpoint(self.checkpoint_path, self.model, self.optimizer, self.epoch,
                        self.history, self.run, augment_state)
        self._save_snapshots()
        self.write_gradient_norms()

    def resume(self, state=None):
        """Continue from the checkpoint in out_dir (or a checkpoint already read)."""
        state = state or read_checkpoint(self.checkpoint_path)
        restore(state, self.model, self.optimizer)
        if self.augmenter and state["rng"]["augment"] is not None:
            self.augmenter.set_state(state["rng"]["augment"])
        self.epoch, self.history = state["epoch"], state["history"]
        self.snapshots = {e: s for e, s in self._load_snapshots().items() if e <= self.epoch}
        # The CSV may run past the checkpoint (written after epochs the checkpoint never saw):
        # those rows are dropped, and recorded again as the run repeats those epochs.
        self.gradient_norms = [r for r in self._load_gradient_norms() if r["epoch"] <= self.epoch]

    def request_stop(self):
        """Finish the current epoch, write a checkpoint, and return from fit()."""
        self._stop_requested = True

    # -- one epoch ------------------------------------------------------------------------------
    def train_step(self, trace=False):
        """One epoch's step; with `trace`, the step's StepTrace is left in self.last_trace."""
        x, y = self.train.images, self.train.masks
        if self.augmenter is not None:
            x, y = self.augmenter(x, y)
        epoch = self.epoch + 1
        tracer = Tracer(self.model) if trace else contextlib.nullcontext()
        with tracer:
            pred = self.model.forward(x, training=True)
            value = self.loss.forward(pred, y)
            if not math.isfinite(value):
                raise TrainingDiverged(f"loss became {value} at epoch {epoch}")
            self.model.backward(self.loss.backward())
            if self.records_gradients(epoch):
                self.gradient_norms += [{"epoch": epoch, "name": name, "norm": l2_norm(grad)}
                                        for name, _, grad in self.model.named_parameters()]
            self.optimizer.step()
        if trace:
            tracer.trace.loss, tracer.trace.epoch = float(value), epoch
            self.last_trace = tracer.trace
        return {"train_loss": value, "train_accuracy": metrics.pixel_accuracy(pred, y)}

    def records_gradients(self, epoch):
        """Whether `epoch` records gradient norms: every grad_every-th, the first and the last."""
        every = self.run["grad_every"]
        return bool(every) and (epoch == 1 or epoch % every == 0 or epoch == self.run["epochs"])

    def evaluate(self, predictions=None):
        """Loss and metrics of the training frames, the held-out frames and all of them."""
        batch = self.run["eval_batch"]
        pred_train, pred_held = predictions or (predict(self.model, self.train.images, batch),
                                                predict(self.model, self.heldout.images, batch))
        row = {"heldout_loss": self.loss.forward(pred_held, self.heldout.masks)}
        row.update(set_metrics(pred_held, self.heldout.masks, "heldout"))
        row.update(set_metrics(pred_train, self.train.masks, "train_eval"))
        row.update(set_metrics(np.concatenate([pred_train, pred_held]),
                               np.concatenate([self.train.masks, self.heldout.masks]), "all"))
        return row

    # -- the loop ----------------------------------------------------------------------------------
    def fit(self, trace=False):
        """Train up to run["epochs"]; returns the history. Ctrl-C stops after the epoch.

        With `trace`, the first epoch this call runs is traced layer by layer: the table is
        logged and written to trace.txt, trace.json and trace.csv in out_dir.
        """
        os.makedirs(self.out_dir, exist_ok=True)
        epochs = self.run["epochs"]
        if self.epoch == 0 and self.run["snapshot_every"]:
            self.snapshots[0] = predict(self.model, self.train.images, self.run["eval_batch"])
        previous = signal.getsignal(signal.SIGINT)
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._on_interrupt)
        bar = self._progress_bar(epochs)
        try:
            while self.epoch < epochs and not self._stop_requested:
                self._one_epoch(epochs, bar, trace)
                trace = False
        except TrainingDiverged as error:
            raise TrainingDiverged(f"{error}; stopped. {self._last_checkpoint_text()}") from None
        finally:
            if previous is signal.default_int_handler:
                signal.signal(signal.SIGINT, previous)
            if bar is not None:
                bar.close()
        self.save()
        if self._stop_requested:
            self.log(f"stopped at epoch {self.epoch}; resume with --resume {self.out_dir}")
        else:
            self.model.save(os.path.join(self.out_dir, "weights.npz"))
        return self.history

    def _one_epoch(self, epochs, bar, trace=False):
        start = time.perf_counter()
        row = {"epoch": self.epoch + 1, **self.train_step(trace)}
        self.epoch += 1
        if trace:
            paths = write_trace(self.last_trace, self.out_dir)
            self.log(f"{self.last_trace.table()}\nwrote {', '.join(paths)}")
        if self.records_gradients(self.epoch):
            self.write_gradient_norms()
        if self.epoch % self.run["val_every"] == 0 or self.epoch == epochs:
            row.update(self.evaluate())
        if self.run["snapshot_every"] and (self.epoch % self.run["snapshot_every"] == 0
                                           or self.epoch == epochs):
            self.snapshots[self.epoch] = predict(self.model, self.train.images, self.run["eval_batch"])
        row["seconds"] = time.perf_counter() - start
        self.history.append(row)
        self.write_history()
        if self.epoch % self.run["checkpoint_every"] == 0:
            self.save()
        if bar is not None:
            shown = {k: f"{row[k]:.4f}" for k in ("train_loss", "heldout_iou") if k in row}
            bar.set_postfix(shown, refresh=False)
            bar.update(1)

    def _on_interrupt(self, signum, frame):
        if self._stop_requested:                 # a second Ctrl-C: stop now, keep the last checkpoint
            raise KeyboardInterrupt
        self.log("\ninterrupted: finishing this epoch and writing a checkpoint (Ctrl-C again to abort)")
        self.request_stop()

    def _last_checkpoint_text(self):
        if os.path.exists(self.checkpoint_path):
            epoch = read_checkpoint(self.checkpoint_path)["epoch"]
            return f"The last good checkpoint is {self.checkpoint_path} (epoch {epoch})."
        return "No checkpoint had been written yet."

    def _progress_bar(self, epochs):
        if not self.progress:
            return None
        from tqdm import tqdm
        return tqdm(total=epochs, initial=self.epoch, unit="epoch", dynamic_ncols=True)

    # -- files ---------------------------------------------------------------------------------
    def write_history(self):
        text = io.StringIO()
        writer = csv.DictWriter(text, HISTORY_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.history:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        atomic_write(os.path.join(self.out_dir, "history.csv"), lambda f: f.write(text.getvalue().encode()))

    def write_gradient_norms(self):
        """gradient_norms.csv: one row per parameter and recorded epoch (none when disabled)."""
        if not self.run["grad_every"] and not self.gradient_norms:
            return
        text = io.StringIO()
        writer = csv.DictWriter(text, GRADIENT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in self.gradient_norms:
            writer.writerow({**row, "norm": f"{row['norm']:.8g}"})
        atomic_write(os.path.join(self.out_dir, GRADIENT_NORMS),
                     lambda f: f.write(text.getvalue().encode()))

    def _load_gradient_norms(self):
        path = os.path.join(self.out_dir, GRADIENT_NORMS)
        if not os.path.exists(path):          # a run from before gradient norms were recorded
            return []
        with open(path, newline="") as f:
            return [{"epoch": int(r["epoch"]), "name": r["name"], "norm": float(r["norm"])}
                    for r in csv.DictReader(f)]

    def _save_snapshots(self):
        arrays = {f"epoch_{e:05d}": (255 * p[..., 0]).round().astype(np.uint8)
                  for e, p in self.snapshots.items()}
        atomic_write(os.path.join(self.out_dir, "evolution.npz"), lambda f: np.savez(f, **arrays))

    def _load_snapshots(self):
        path = os.path.join(self.out_dir, "evolution.npz")
        if not os.path.exists(path):
            return {}
        with np.load(path) as data:
            return {int(k.split("_")[1]): data[k][..., None] / 255.0 for k in data.files}

    def final_report(self):
        """Metrics per set and per image at the current weights, as a JSON-ready dict."""
        batch = self.run["eval_batch"]
        preds = (predict(self.model, self.train.images, batch),
                 predict(self.model, self.heldout.images, batch))
        report = {"epoch": self.epoch, **self.evaluate(preds)}
        for name, record, pred in (("train", self.train, preds[0]), ("heldout", self.heldout, preds[1])):
            report[f"{name}_per_image"] = {
                n: {"accuracy": metrics.pixel_accuracy(p, t), "iou": metrics.iou(p, t),
                    "dice": metrics.dice(p, t)} for n, p, t in zip(record.names, pred, record.masks)}
        atomic_write(os.path.join(self.out_dir, "metrics.json"),
                     lambda f: f.write(json.dumps(report, indent=2).encode()))
        return report
