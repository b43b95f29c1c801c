"""Looking inside a model: memory.py estimates a step's peak memory before it runs (and refuses
what does not fit), from the per-layer rules of footprints.py; trace.py records one step layer
by layer (shapes, times, norms of activations and gradients)."""
