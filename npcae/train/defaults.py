"""The one set of defaults of a training run. `npcae train` shows them in its help, the callbacks
and data readers take theirs from here, and a stored run holds them all (npcae.train.experiment)."""
from ..data.frames import DEFAULT_CACHE_MB


DEFAULTS = dict(
    data="synthetic", size=None,            # size None: the data set's default (HxW)
    model="cae", model_args={},             # the builder's own defaults (the original CAE)
    task=None, loss=None,                   # None: the data's task (binary masks, or class ids) and its loss
    classes=None, palette=None,             # multi-class: the number of classes, a palette file
    class_weights=None,                     # multi-class: None, "auto" (median frequency) or K numbers
    epochs=500, lr=5e-4, batch_size=None,   # batch_size None: every training frame in one batch
    lr_schedule="constant",                 # or "cosine" (npcae.train.callbacks.schedule)
    shuffle=True, seed=0, augment=False,
    augment_args={},                        # Augmenter's amounts when augmenting (its defaults)
    train_names=None, n_train=None, val_split=None, val_data=None,   # None: the data set's split
    val_every=10, checkpoint_every=50, snapshot_every=50, grad_every=10,
    eval_batch=3,                           # frames per inference batch (bounds im2col memory)
    train_eval="auto",                      # also validate the training frames: "auto", True, False
    cache_mb=DEFAULT_CACHE_MB,                           # keep decoded frames in memory up to this many MB
)

# What choosing a model changes in DEFAULTS, for the settings not given. The U-Net removes
# backgrounds: it trains on photos of people (offline, the rendered synthetic-people) in
# mini-batches, too many frames for one batch, and validates more often than the CAE's 3-frame
# run needs to. Measured on human-seg-290 (250 photos to train, 40 held out, 128x128):
#   * without augmentation it reached training IoU 0.87 but held-out 0.64 by epoch 26;
#   * with the CAE's light augmentation, Adam 5e-4 constant: held-out 0.72 after 60 epochs,
#     jumping by up to 0.2 between validations (batch norm momentum 0.99, see models/unet.py);
#   * the same with Adam 1e-3 decayed by a cosine over 120 epochs: held-out 0.795 (training
#     0.896), a plateau from epoch 80 on: it had learned its 250 photos, not people;
#   * stronger augmentation (zoom 0.7-1.3, shifts of 15%, brightness and contrast 30%) over 140
#     epochs, below: held-out 0.807 (training 0.889) in 48.8 min, the README's figure.
MODEL_DEFAULTS = {
    "unet": dict(data="synthetic-people", batch_size=8, epochs=140, lr=1e-3, lr_schedule="cosine",
                 augment=True, augment_args=dict(scale=0.3, shift=0.15, brightness=0.3, contrast=0.3),
                 val_every=2, checkpoint_every=2, snapshot_every=10, grad_every=5),
}
