"""Export and predict: TorchScript / ONNX / safetensors writers with preprocessing baked in,
a parity check run in a fresh process, and loading any exported or imported model to predict.

Every exported graph takes **uint8 images, N x H x W x C** (C = 1 for grayscale models, 3 for RGB;
any batch, any H and W) and does resize + normalisation inside, returning softmax probabilities
(and the logits). So an outside user only decodes an image into a numpy array.
"""
