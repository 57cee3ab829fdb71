"""Memory budgets, in tensor elements, of the computations that work a slab or a chunk at a time instead of
holding a whole resized map (float32: 4 bytes an element)."""

__all__ = ["BOUNDARY_CHUNK_ELEMENTS", "RESIZED_CHUNK_ELEMENTS", "SLAB_ELEMENTS"]

# Values resized at a time where a whole map need not be held (the loss's upsampled rows, the rows of a resized
# argmax): ~8 MB of float32, about what stays in cache.
SLAB_ELEMENTS = 1 << 21

# Class-boundary pixels interpolated at a time by resized_argmax (all classes of each): 64 MB.
BOUNDARY_CHUNK_ELEMENTS = 1 << 24

# Resized logits processed at a time for confidence / probabilities (a few classes per step for a 12-megapixel
# photo), so 150 classes x 12 MP (7 GB in float32) never sit in memory at once: 128 MB.
RESIZED_CHUNK_ELEMENTS = 1 << 25
