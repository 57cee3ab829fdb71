"""Operations the models (and the stages above them) are built from: bilinear resizing and its interpolation
weights (``resize``), a 3x3 convolution of a bilinearly upsampled map done on the coarse grid (``upsampled_conv``),
the same for a nearest-2x upsampled map (``nearest_conv``), a GELU + linear and a BatchNorm + ReLU that keep less for
backward (``gelu_linear``, ``batch_norm_relu``), and Linear layers through oneDNN with the GELU fused at CPU inference (``linear``)."""
