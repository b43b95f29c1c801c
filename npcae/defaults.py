"""The one set of defaults of a training run. `npcae train` shows them in its help, the callbacks
and data readers take theirs from here, and a stored run holds them all (npcae.experiment)."""

DEFAULTS = dict(
    data="synthetic", size=None,            # size None: the data set's default (HxW)
    model="cae", model_args={},             # the builder's own defaults (the original CAE)
    task="binary", loss="dice+focal",
    epochs=500, lr=5e-4, batch_size=None,   # batch_size None: every training frame in one batch
    lr_schedule="constant",                 # or "cosine" (npcae.callbacks.schedule)
    shuffle=True, seed=0, augment=False,
    train_names=None, n_train=None, val_split=None, val_data=None,   # None: the data set's split
    val_every=10, checkpoint_every=50, snapshot_every=50, grad_every=10,
    eval_batch=3,                           # frames per inference batch (bounds im2col memory)
    train_eval="auto",                      # also validate the training frames: "auto", True, False
    cache_mb=256,                           # keep decoded frames in memory up to this many MB
)

# What choosing a model changes in DEFAULTS, for the settings not given. The U-Net removes
# backgrounds: it trains on photos of people (offline, the rendered synthetic-people) in
# mini-batches, too many frames for one batch, validates more often than the CAE's 3-frame run
# needs to, and augments: without, on human-seg-290 it reached training IoU 0.87 but held-out
# 0.64 by epoch 26 (128x128); with, held-out tracked training (0.69 and 0.72 at epoch 20).
# (Epochs and size not yet tuned for "a good model within an hour": see the README.)
MODEL_DEFAULTS = {
    "unet": dict(data="synthetic-people", batch_size=8, epochs=40, augment=True, val_every=2,
                 lr_schedule="cosine",
                 checkpoint_every=2, snapshot_every=5, grad_every=5),
}

