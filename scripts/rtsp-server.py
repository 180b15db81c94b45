#!/usr/bin/python3
"""Serves an MP4 clip (H.264) as an RTSP stream at its own pace, looped or once, with Debian's
GStreamer RTSP server: a camera for the demo and the tests. Run it with Debian's
/usr/bin/python3, whose `gi` module is a Debian package (python3-gi).

    rtsp-server.py PORT CLIP.mp4 [--path /cam] [--once]

Prints "ready" when it listens. Each client gets the clip from its start."""

import argparse
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def loop_forever(media):
    """Plays the clip in a loop without a break in its timestamps: once playing, the media is
    sought to its start without flushing and in segment mode, so that at the end of the clip a
    segment-done (not an end of stream) comes, and the next seek goes on from there."""
    element = media.get_element()

    def pipeline():
        top = element
        while top.get_parent():
            top = top.get_parent()
        return top

    def rewind():
        pipeline().seek(1.0, Gst.Format.TIME, Gst.SeekFlags.SEGMENT,
                        Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)
        return False

    def at_the_end(_pad, info):
        if info.get_event().type == Gst.EventType.SEGMENT_DONE:
            GLib.idle_add(rewind)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    element.get_by_name("pay0").get_static_pad("sink").add_probe(
        Gst.PadProbeType.EVENT_DOWNSTREAM, at_the_end)

    def playing(media, state):
        # The client's PLAY seeks with a flush first; the loop's seek comes after it.
        if state == Gst.State.PLAYING and not getattr(media, "looping", False):
            media.looping = True
            GLib.timeout_add(200, rewind)

    media.connect("new-state", playing)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port")
    parser.add_argument("clip")
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--once", action="store_true", help="end the stream at the clip's end")
    args = parser.parse_args()
    if not os.path.isfile(args.clip):
        sys.exit(f"{args.clip}: no such clip")
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(args.port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{os.path.abspath(args.clip)}" ! qtdemux ! h264parse '
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(False)
    if not args.once:
        factory.connect("media-configure", lambda _factory, media: loop_forever(media))
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {args.port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
