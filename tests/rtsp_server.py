"""A real RTSP server for tests: GStreamer's gst-rtsp-server serving one H.264 mp4 file in real time.

Run with the system Python, which has PyGObject (Debian's python3-gi, gir1.2-gst-rtsp-server-1.0):
    /usr/bin/python3 tests/rtsp_server.py VIDEO.mp4 PORT /path
Each client gets the file from its start; when it ends the session ends (EOS).
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    """Serve argv[1] at rtsp://127.0.0.1:argv[2]argv[3] until killed."""
    video, port, mount = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( filesrc location={video} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )")
    server.get_mount_points().add_factory(mount, factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
