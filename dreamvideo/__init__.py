"""dreamvideo: DeepDream for videos and infinite-zoom dream loops.

Conventions: torch-side images are float32 [B,3,H,W] RGB in [0,1] on the device; I/O-side frames are
uint8 [H,W,3] RGB numpy; flow is [B,2,H,W] in pixels; fps is a fractions.Fraction.
"""

__version__ = "0.1.0"
