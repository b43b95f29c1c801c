"""The named data sets, one module each, named after its set: "tiktok-136" is tiktok_136.py.

Each module says where its set comes from and what it defaults to, and builds its Dataset
(npcae.data.dataset) as DATASET; npcae.data.registry lists them. The downloaded sets
(tiktok_136, human_seg_290, cityscapes_pix2pix) have their files' SHA-256 beside the module in
NAME.sha256, as `sha256sum -c` reads it, and a fetch function; the rendered ones (synthetic,
synthetic_people, synthetic_streets) have a renderer, and draw people with npcae.data.drawing.
"""
