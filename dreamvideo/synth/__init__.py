"""Synthetic test clips: ffmpeg lavfi sources (tests) and clips made from photos with camera motion, moving
things and non-rigid change, with their true motion where it is known (benchmarks). Not used by the product
itself. Frames are uint8 [H,W,3] RGB numpy; true flows [1,2,H,W] torch float32, in pixels."""
from .camera import (_affine, along, blurred_along, camera, camera_flows, camera_path, dissolve, dolly_path, fade,
                     glued, grain, mosaic, pan_path, strobe, titled, whip_path)
from .files import lavfi_clip, photo_clip
from .nonrigid import cloth, cloth_flows, cloth_glued, smoke, smoke_flows, smoke_glued, water
from .scenes import dancer, passer, scene_maps

__all__ = ["along", "blurred_along", "camera", "camera_flows", "camera_path", "cloth", "cloth_flows", "cloth_glued",
           "dancer", "dissolve", "dolly_path", "fade", "glued", "grain", "lavfi_clip", "mosaic", "passer",
           "pan_path", "photo_clip", "scene_maps", "smoke", "smoke_flows", "smoke_glued", "strobe", "titled", "water",
           "whip_path"]
