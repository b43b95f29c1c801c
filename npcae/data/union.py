"""UnionFrames: several sets of frames of one size read as one, each frame named SOURCE/NAME.

    people = UnionFrames({"coco": coco_persons, "human-seg-290": photos, "synthetic-people": drawn})
    people.names[:2]          # ['coco/000000008193', 'coco/000000024577']
    people.read([0, 300])     # one batch with a frame of each set, in the order asked

`npcae train --data A --data B` trains on the union of the sets' training frames: a person
model learns from COCO's cluttered scenes, human-seg-290's portraits and the rendered people
together. Prefixing every name with its source keeps names unique (two folders may both hold a
"1.png") and says in every figure and report where a frame came from. Each part keeps its own
reader and cache; a batch is read from each part it touches and put back in the order asked.
"""
from pathlib import Path

import numpy as np

from .frames import DataError, Frames

SEPARATOR = "/"


def source_label(spec):
    """A short name for a data spec: a set's name, coco-SPLIT for a COCO file
    (coco:.../instances_train2017.json -> coco-train2017), a folder's name."""
    text = str(spec)
    if text.startswith("coco:"):
        return "coco-" + Path(text[len("coco:"):]).stem.rpartition("_")[2]
    return Path(text).name or text


def source_labels(specs):
    """One distinct label per spec, in order (a repeated label gets -2, -3, ...)."""
    labels = []
    for spec in specs:
        label, k = source_label(spec), 2
        while label in labels:
            label, k = f"{source_label(spec)}-{k}", k + 1
        labels.append(label)
    return labels


class UnionFrames(Frames):
    """The frames of several Frames of one size ({label: frames}, in that order), as one set."""

    def __init__(self, parts):
        parts = {label: frames for label, frames in parts.items() if len(frames)}
        if not parts:
            raise DataError("a union of data sets needs at least one frame")
        sizes = {tuple(frames.size) for frames in parts.values()}
        if len(sizes) > 1:
            shown = ", ".join(f"{label} {f.size[0]}x{f.size[1]}" for label, f in parts.items())
            raise DataError(f"the data sets of one run must share a size; got {shown}")
        self.parts = parts
        self.names = [f"{label}{SEPARATOR}{name}" for label, frames in parts.items()
                      for name in frames.names]
        self.notes = [f"{label}: {note}" for label, frames in parts.items() for note in frames.notes]
        self._where = [(label, row) for label, frames in parts.items() for row in range(len(frames))]

    @property
    def size(self):
        return tuple(next(iter(self.parts.values())).size)

    def read(self, indices):
        """(images (B, H, W, 3), masks (B, H, W, 1)) of the frames at `indices`, in that order."""
        rows = list(indices)
        wanted = {}                                  # label -> [(position in batch, row of part)]
        for k, index in enumerate(rows):
            label, row = self._where[index]
            wanted.setdefault(label, []).append((k, row))
        images = masks = None
        for label, pairs in wanted.items():
            part_images, part_masks = self.parts[label].read([row for _, row in pairs])
            if images is None:
                images = np.empty((len(rows), *part_images.shape[1:]), part_images.dtype)
                masks = np.empty((len(rows), *part_masks.shape[1:]), part_masks.dtype)
            at = [k for k, _ in pairs]
            images[at], masks[at] = part_images, part_masks
        if images is None:                           # an empty batch
            return self.parts[next(iter(self.parts))].read([])
        return images, masks

    def native(self, index):
        label, row = self._where[index]
        return self.parts[label].native(row)

    def subset(self, names):
        """The frames called `names` (SOURCE/NAME), a union again; their order must keep each
        source's frames together in the order given."""
        rows = self.rows(names)
        chosen = {}
        for index in rows:
            label, row = self._where[index]
            chosen.setdefault(label, []).append(self.parts[label].names[row])
        union = UnionFrames({label: self.parts[label].subset(part_names)
                             for label, part_names in chosen.items()})
        if union.names != list(names):
            raise DataError("a union's subset keeps each source's frames together, in order")
        return union
