"""The CAM methods the studio offers, by name, without loading torch.

The UI lists them at start; `serve.cam` runs one, taking the class of that name from
`pytorch-grad-cam` only then.
"""

from __future__ import annotations

# name shown and accepted → the `pytorch_grad_cam` class that computes it
CAM_METHODS: dict[str, str] = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "eigencam": "EigenCAM",
}
