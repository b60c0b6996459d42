"""Face detection: image tensors in, dense detections out. Never sees a genome."""

from polyface.detect.blazeface import BlazeFace
from polyface.detect.mtcnn import FaceDetector
from polyface.detect.types import Detections, Detector

__all__ = ["BlazeFace", "Detections", "Detector", "FaceDetector"]
