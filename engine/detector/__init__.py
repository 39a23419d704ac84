"""engine.detector: any ONNX with the YOLOv8/YOLO11 output layout plus a detector.json is a person detector.

Letterboxing, decoding and NMS are numpy; the graph runs on ONNX Runtime or a TensorRT plan. Importing
this package needs neither torch nor onnx (writing a detector directory, in engine.detector.write, does).
"""

from engine.detector.decode import Detections
from engine.detector.detector import Detector
from engine.detector.loader import load_detector
from engine.detector.spec import DETECTOR_JSON, DETECTOR_ONNX, DetectorSpec

__all__ = ["DETECTOR_JSON", "DETECTOR_ONNX", "Detections", "Detector", "DetectorSpec", "load_detector"]
