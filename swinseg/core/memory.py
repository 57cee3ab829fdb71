"""Memory budgets, in tensor elements, of the computations that work a slab or a chunk at a time instead of
holding a whole resized map (float32: 4 bytes an element); and the variable that gives PyTorch's CPU allocator
huge pages. Imports nothing (the command line reads it before torch is imported)."""

__all__ = ["BOUNDARY_ELEMENTS", "HUGE_PAGES_ENV", "RESIZED_CHUNK_ELEMENTS", "SLAB_ELEMENTS"]

# PyTorch's CPU allocator asks the kernel for transparent huge pages (2 MB instead of 4 KB) for large tensors
# when this is "1" as torch is imported. A forward pass allocates its activations afresh each time, and the
# kernel maps and zero-fills each page at its first touch: with huge pages that costs far less (2-vCPU Xeon,
# Swin-T at 512x512: the U-Net 0.40 -> 0.33 s, the UPerNet 1.17 -> 1.08 s; the 150-class logits' convolution
# alone 64 -> 42 ms). Peak memory is unchanged. It does nothing where the kernel's transparent huge pages are
# "never" (/sys/kernel/mm/transparent_hugepage/enabled), nor once torch is imported. The ``swinseg`` command
# and benchmarks/speed_targets.py set it unless it is set ("0": off).
HUGE_PAGES_ENV = "THP_MEM_ALLOC_ENABLE"

# Values resized at a time where a whole map need not be held (the loss's upsampled rows, the rows of a resized
# argmax): ~8 MB of float32, about what stays in cache.
SLAB_ELEMENTS = 1 << 21

# Class-boundary pixels' scores (all classes of each) that resized_argmax gathers and interpolates at a time:
# 1 MB of float32, what stays in a core's cache (2-vCPU Xeon, 150 classes, 50k boundary pixels: 25 ms at
# 1 << 18 values, 36 ms at 1 << 16, 32-42 ms at 1 << 22).
BOUNDARY_ELEMENTS = 1 << 18

# Resized logits processed at a time for confidence / probabilities (a few classes per step for a 12-megapixel
# photo), so 150 classes x 12 MP (7 GB in float32) never sit in memory at once: 128 MB.
RESIZED_CHUNK_ELEMENTS = 1 << 25
