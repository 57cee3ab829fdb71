"""Decode heads over the four Swin stages: UPerNet (``uper``), the auxiliary FCN head (``fcn``), smp's U-Net
decoder (``unet``) and the Swin-Unet decoder (``swin_unet``)."""
