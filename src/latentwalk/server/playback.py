"""HTTP and WebSocket face of live playback: control and status, MIDI learning, and the outputs
(/output page, /stream.mjpg, /ws/output, the newest frame as JPEG)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from latentwalk.errors import NameNotFound
from latentwalk.playback.commands import parse_command
from latentwalk.playback.midi import MidiMessage, available_ports
from latentwalk.playback.outputs import MJPEG_BOUNDARY, mjpeg_stream
from latentwalk.playback.stage import Stage
from latentwalk.server.ws import FRAME_HEADER, FRAME_MAGIC, same_origin

log = logging.getLogger(__name__)
router = APIRouter()
STATIC = resources.files("latentwalk.server") / "static"
COMMAND_TIMEOUT_S = 60.0  # a play may have to load a model first
NO_CACHE = {"Cache-Control": "no-store"}


def _stage(request: Request | WebSocket) -> Stage:
    return request.app.state.lw.stage  # type: ignore[no-any-return]


@router.get("/api/playback")
async def playback_status(request: Request) -> dict[str, Any]:
    """What the player is doing: state, animation, frame, fps, speed, counters of late frames."""
    return _stage(request).player.status()


@router.post("/api/playback")
async def playback_command(
    request: Request, body: Annotated[dict[str, Any], Body(examples=[{"command": "play", "names": ["walk"]}])]
) -> dict[str, Any]:
    """Carry out one command ({"command": "play", "names": [...]}, "pause", "seek"...); answers
    with the status after it, or with the error that refused it."""
    command = parse_command(body)
    future = _stage(request).player.apply(command)
    return await asyncio.wait_for(asyncio.wrap_future(future), COMMAND_TIMEOUT_S)


@router.get("/api/playback/frame.jpg", responses={200: {"content": {"image/jpeg": {}}}})
async def playback_frame(request: Request) -> Response:
    """The frame presented last, as JPEG (404 before the first one)."""
    pf = _stage(request).hub.frame
    if pf is None:
        raise NameNotFound("no frame has been presented yet: play something first")
    jpeg = await asyncio.to_thread(pf.frame.jpeg)
    headers = {**NO_CACHE, "X-Frame-Index": str(pf.index), "X-Frame-Total": str(pf.total)}
    return Response(jpeg, media_type="image/jpeg", headers=headers)


@router.get("/stream.mjpg", response_class=StreamingResponse)
async def mjpeg(request: Request, frames: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:
    """The presented frames as MJPEG (multipart/x-mixed-replace) for OBS, VLC, TouchDesigner, <img>.
    A slow client skips frames. `?frames=N` ends the stream after N frames."""
    return StreamingResponse(
        mjpeg_stream(_stage(request).hub, frames, request.is_disconnected),
        media_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
        headers={**NO_CACHE, "X-Accel-Buffering": "no"},
    )


@router.get("/output", include_in_schema=False)
async def output_page() -> FileResponse:
    """The full-screen output page for a projector (black, chrome-free; F11 or double-click)."""
    return FileResponse(str(STATIC / "output.html"), headers={"Cache-Control": "no-cache"})


@router.websocket("/ws/output")
async def output_socket(ws: WebSocket) -> None:
    """Presented frames as binary messages (LWF1 header: id = generation, index, width, height,
    then JPEG) and the player's status as JSON {"type": "playback", ...} whenever it changes."""
    stage = _stage(ws)
    hub = stage.hub
    if not same_origin(ws.headers.get("origin"), ws.headers.get("host")):
        await ws.close(code=1008, reason="cross-origin connections are refused")  # as /ws
        return
    await ws.accept()

    async def until_closed() -> None:  # the client sends nothing; this notices when it leaves
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass

    closed = asyncio.create_task(until_closed())
    frame_seen, status_seen = -1, -1
    try:
        async with hub.subscription() as event:
            await ws.send_text(json.dumps({"type": "playback", **stage.player.status()}))
            status_seen = hub.status_seq
            while not closed.done():
                if hub.status_seq != status_seen:
                    status_seen = hub.status_seq
                    await ws.send_text(json.dumps({"type": "playback", **hub.status}))
                pf = hub.frame
                if pf is not None and hub.frame_seq != frame_seen:
                    frame_seen = hub.frame_seq
                    jpeg = await asyncio.to_thread(pf.frame.jpeg)
                    head = FRAME_HEADER.pack(
                        FRAME_MAGIC, pf.generation, pf.index, pf.frame.width, pf.frame.height
                    )
                    await ws.send_bytes(head + jpeg)
                    continue
                waiting = asyncio.create_task(event.wait())
                await asyncio.wait({waiting, closed}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                event.clear()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await closed


# ---------------------------------------------------------------------------- MIDI


class LearnBody(BaseModel):
    control: str
    arg: str | None = Field(None, max_length=2000)
    min: float | None = None
    max: float | None = None


class MidiBody(BaseModel):
    type: Literal["cc", "note"]
    channel: int = Field(0, ge=0, le=15)
    number: int = Field(ge=0, le=127)
    value: int = Field(ge=0, le=127)


@router.get("/api/midi")
async def midi_state(request: Request) -> dict[str, Any]:
    """Bindings, the control being learned (if any), the controls, and the MIDI input in use."""
    stage = _stage(request)
    ports, problem = await asyncio.to_thread(available_ports)
    return {
        **stage.midi.as_dict(),
        "input": {
            "port": stage.midi_input.name if stage.midi_input else None,
            "ports": ports,
            "problem": problem,
        },
    }


@router.post("/api/midi/learn")
async def midi_learn(request: Request, body: LearnBody) -> dict[str, Any]:
    """Arm a control: the next knob or pad that sends anything is bound to it."""
    stage = _stage(request)
    stage.midi.arm(body.control, body.arg, body.min, body.max)
    return stage.midi.as_dict()


@router.delete("/api/midi/learn")
async def midi_disarm(request: Request) -> dict[str, Any]:
    stage = _stage(request)
    stage.midi.disarm()
    return stage.midi.as_dict()


@router.delete("/api/midi/bindings/{index}")
async def midi_unbind(request: Request, index: int) -> dict[str, Any]:
    stage = _stage(request)
    await asyncio.to_thread(stage.midi.unbind, index)
    return stage.midi.as_dict()


@router.post("/api/midi/message")
async def midi_message(request: Request, body: MidiBody) -> dict[str, Any]:
    """Feed one MIDI message as if a controller had sent it (virtual controllers, tests)."""
    return _stage(request).on_midi(MidiMessage(body.type, body.channel, body.number, body.value))
