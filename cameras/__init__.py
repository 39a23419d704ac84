"""Camera front end: frames from a source, person detection, tracking, and the best crops of each track.

It knows no gallery and no HTTP: a pipeline hands finished tracks (crops, boxes, times, quality, frame
JPEGs) to a sink that the service or the CLI gives it.
"""
