"""Exporting a segmentor for deployment: ONNX (``onnx``), with an onnxruntime check against PyTorch."""
