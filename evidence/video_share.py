"""A video's share copy: the same picture and sound in a new container, and nothing else.

The audio and video packets are copied as they are (PyAV stream copy: no re-encoding, no
loss, seconds for a gigabyte) into a new MP4/MOV/3GP of the original's family. What is left
behind: every container and stream tag (Android ``©xyz``, Apple ISO 6709 location and
make/model/software keys, 3GPP ``loci``, vendor keys, titles, creation times), data streams
(timed metadata such as Apple's ``mebx`` location track or GPMF GPS), subtitles and
attachments. The display rotation is part of the video stream's parameters and is kept.

Memory stays bounded: packets go one at a time from file to file (the demuxer reads samples
in time order, so the muxer has nothing to hold back), and ``faststart`` moves the index to
the front in a second pass over the disk, not in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evidence.media import MediaType

__all__ = ["ShareCopyError", "StrippedVideo", "strip_video"]

_MUXERS = {"mp4": "mp4", "mov": "mov", "3gp": "3gp"}
_KEPT = frozenset({"video", "audio"})


class ShareCopyError(RuntimeError):
    """The video could not be re-muxed (its streams or packets are not copyable)."""


@dataclass(frozen=True, slots=True)
class StrippedVideo:
    path: Path
    size: int
    width: int
    height: int
    streams: int


def strip_video(source: str, target: Path, media: MediaType) -> StrippedVideo:
    """Copy the audio and video packets of ``source`` into ``target`` without any metadata.

    Raises :class:`ShareCopyError` when the file has no video stream or FFmpeg refuses it.
    """
    import av  # noqa: PLC0415 - heavy import, only for videos

    muxer = _MUXERS.get(media.family)
    if muxer is None:
        msg = f"not a video family: {media.family}"
        raise ValueError(msg)
    options = {"fflags": "+bitexact", "movflags": "+faststart"}
    try:
        with av.open(source, mode="r", metadata_errors="replace") as inp:
            kept = [s for s in inp.streams if s.type in _KEPT]
            if not inp.streams.video:
                msg = "the video has no video stream"
                raise ShareCopyError(msg)
            video = inp.streams.video[0]
            width, height = video.codec_context.width, video.codec_context.height
            with av.open(str(target), mode="w", format=muxer, options=options) as out:
                copies = {s.index: out.add_stream_from_template(s) for s in kept}
                for packet in inp.demux(kept):
                    if packet.dts is None:  # the demuxer's end-of-stream marker
                        continue
                    packet.stream = copies[packet.stream.index]
                    out.mux(packet)
    except av.FFmpegError as exc:
        msg = f"the video cannot be re-muxed: {exc}"
        raise ShareCopyError(msg) from exc
    return StrippedVideo(
        path=target,
        size=target.stat().st_size,
        width=int(width or 0),
        height=int(height or 0),
        streams=len(kept),
    )
