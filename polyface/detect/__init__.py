"""Face detection: image tensors in, dense detections out. Never sees a genome."""

from polyface.detect.mtcnn import FaceDetector
from polyface.detect.types import Detections, Detector

__all__ = ["Detections", "Detector", "FaceDetector"]
