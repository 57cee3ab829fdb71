"""Operations the models (and the stages above them) are built from: bilinear resizing and its interpolation
weights (``resize``), a 3x3 convolution of a bilinearly upsampled map done on the coarse grid (``upsampled_conv``),
the same for a nearest-2x upsampled map (``nearest_conv``), Linear layers through oneDNN with the GELU fused at
CPU inference (``linear``), and three that keep less for backward in training: a GELU + linear
(``gelu_linear``), a BatchNorm + ReLU (``batch_norm_relu``) and window attention with a learned bias
(``biased_attention``), each taking the plain expression outside eager autograd (``eager_autograd``)."""
