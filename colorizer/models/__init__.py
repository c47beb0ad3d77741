"""The networks and where their weights come from: the U-Net generator and its layers, the
ImageNet-pretrained encoders, the ONNX Runtime twin, and `hub` (a Hub repo, a folder, an `.onnx`
file or the embedded default, resolved and loaded in one place)."""
