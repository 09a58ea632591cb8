"""Inpainting backends: fill a masked face region, keeping every pixel outside the mask bit-exact.

Offline: OpenCV TELEA / Navier-Stokes (:mod:`.classical`), PatchMatch with a face-restricted source
(:mod:`.patchmatch`). Reference: diffusers RePaint and Stable-Diffusion inpainting (:mod:`.diffusion`),
LaMa / MI-GAN ONNX files (:mod:`.onnx`). Backends are created by name through :func:`models.registry.create`;
this package imports none of them eagerly, so asking for TELEA does not import torch.
"""

from models.inpainting.common import BaseInpainter, paste_back

__all__ = ["BaseInpainter", "paste_back"]
