"""Read a source through cameras.sources with the gstreamer decoder and software elements, for the tests.

Run in a child process whose path can import PyGObject (`gi`), which pip does not install:
    python tests/gst_read.py SOURCE OUT.npz DECODER FPS
Writes the frames' pixels, indices, pts and wall times (ISO) to OUT.npz; a SourceError is printed on
stderr as `SourceError: ...` with exit status 3.
"""

import sys

import numpy as np

from cameras.gstreamer import GstOptions
from cameras.sources import Decoder, SourceError, SourceOptions, read


def main() -> None:
    """Read argv[1] with the decoder element argv[3] at argv[4] fps into argv[2]."""
    source, out, decoder, fps = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    elements = GstOptions(decoder=decoder, converter="videoconvert")
    options = SourceOptions(fps=fps, decoder=Decoder.GSTREAMER, gstreamer=elements, read_timeout_s=3.0)
    try:
        frames = list(read(source, options))
    except SourceError as err:
        print(f"SourceError: {err}", file=sys.stderr)
        sys.exit(3)
    np.savez(
        out,
        pixels=np.stack([f.pixels for f in frames]),
        index=np.array([f.index for f in frames]),
        pts=np.array([f.pts_s for f in frames]),
        times=np.array([f.time.isoformat() for f in frames]),
        digests=np.array([f.digest.hex() if f.digest else "" for f in frames]),
    )


if __name__ == "__main__":
    main()
