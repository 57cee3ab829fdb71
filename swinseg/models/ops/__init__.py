"""Operations the models (and the stages above them) are built from: bilinear resizing and its interpolation
weights (``resize``), a 3x3 convolution of an upsampled map done on the coarse grid (``upsampled_conv``), and a
GELU + linear that keeps less for backward (``gelu_linear``)."""
