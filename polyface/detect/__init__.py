"""Face detection: image tensors in, dense detections out. Never sees a genome."""

from polyface.detect.blazeface import BlazeFace
from polyface.detect.mtcnn import Detections, FaceDetector

__all__ = ["BlazeFace", "Detections", "FaceDetector"]
