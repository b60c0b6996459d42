"""Face detection: image tensors in, dense detections out. Never sees a genome."""

from polyface.detect.mtcnn import Detections, FaceDetector

__all__ = ["Detections", "FaceDetector"]
