"""What travels on the ``sfe`` data channel: small JSON messages, one dataclass per kind.

Client → server:

* ``action``  — a named action (``prompt.set``, ``purge``, ``cue.go`` ...) with its value, exactly
  what MIDI, OSC, keys, audio and cues trigger locally; the server routes it through its own
  ``ActionRouter`` so it applies at the next block edge, as locally.
* ``command`` — an engine command (for code that submits ``Command`` objects directly, e.g. a
  client-side cue player); encoded like the engine's command log.
* ``ping``    — for round-trip time.

Server → client: ``ack`` (per action/command: applied or refused, the block it was queued at),
``pong``, and ``status`` (the engine's status snapshot, frames sent, the recent command log) a few
times a second.

``seq`` numbers actions per client; the server ignores a ``seq`` it has already applied, so a client
may resend what was in flight when the link dropped without anything firing twice.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Union

from sfe_live.engine import commands as C

CHANNEL = "sfe"
OFFER_PATH = "/offer"
STATUS_PATH = "/status"
MAX_MESSAGE = 64 * 1024

LOCAL_ACTIONS = frozenset({"record.toggle", "vcam.toggle", "output.fullscreen", "blackout", "freeze"})
"""Actions a remote client keeps for itself: they act on the laptop's own outputs."""


@dataclass(frozen=True)
class Action:
    seq: int
    id: str
    value: Any = None
    sent: float = 0.0
    kind: str = "action"


@dataclass(frozen=True)
class CommandMsg:
    seq: int
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    sent: float = 0.0
    kind: str = "command"


@dataclass(frozen=True)
class Ping:
    n: int
    t: float
    kind: str = "ping"


@dataclass(frozen=True)
class Pong:
    n: int
    t: float
    kind: str = "pong"


@dataclass(frozen=True)
class Ack:
    seq: int
    ok: bool
    block: int = -1
    error: str = ""
    kind: str = "ack"


@dataclass(frozen=True)
class Status:
    engine: dict[str, Any]
    frames_sent: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    controls: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0
    video_kbps: float = 0.0
    model: dict[str, Any] = field(default_factory=dict)
    kind: str = "status"


Message = Union[Action, CommandMsg, Ping, Pong, Ack, Status]
KINDS: dict[str, type] = {"action": Action, "command": CommandMsg, "ping": Ping, "pong": Pong, "ack": Ack,
                          "status": Status}


def encode(msg: Message) -> str:
    return json.dumps(dataclasses.asdict(msg), separators=(",", ":"), default=_jsonable)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def decode(raw: Union[str, bytes]) -> Message:
    """Parse one message; ``ValueError`` names what is wrong (too big, not JSON, unknown kind, fields)."""
    if len(raw) > MAX_MESSAGE:
        raise ValueError(f"message of {len(raw)} bytes is over the {MAX_MESSAGE} byte limit")
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError("a message must be a JSON object")
    cls = KINDS.get(str(obj.get("kind")))
    if cls is None:
        raise ValueError(f"unknown message kind {obj.get('kind')!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(obj) - names
    if extra:
        raise ValueError(f"{obj['kind']}: unknown field(s) {', '.join(sorted(extra))}")
    try:
        return cls(**obj)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ValueError(f"{obj['kind']}: {exc}") from None


def command_message(seq: int, cmd: C.Command, sent: float) -> CommandMsg:
    args = {f.name: getattr(cmd, f.name) for f in dataclasses.fields(cmd)}
    return CommandMsg(seq, cmd.name, {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}, sent)


def is_discrete_action(action_id: str) -> bool:
    """Continuous actions (knobs) coalesce; triggers and toggles are discrete (FIFO, never dropped)."""
    from sfe_live.controls.actions import CONTINUOUS, DEFAULT_REGISTRY
    return action_id not in DEFAULT_REGISTRY or DEFAULT_REGISTRY.get(action_id).kind != CONTINUOUS
