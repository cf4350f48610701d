"""The operator's side of the console: lines typed at the prompt, edited with GNU readline where it can be used
(history, Ctrl-L), and cleaned so that a stray key never becomes task text. Reading happens in a daemon thread: a
blocked read in asyncio's executor would keep Ctrl-C from stopping Deputy until Enter is pressed."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import re
import select
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol, TextIO

PROMPT = "deputy> "
QUIT = ("/quit", "/exit")
HISTORY_FILE = "console_history"
HISTORY_LENGTH = 1000
DRAW_WAIT_S = 1.0
BURST_S = 0.02
"""A line entered while the next one is already waiting (within this long) came in one burst: a paste by a
terminal without bracketed paste, or lines typed ahead all at once."""
PASTE_START = b"\x1b[200~"

CONTROLS = re.compile(
    r"""
      (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]                             # CSI: cursor keys, colours, …
    | (?:\x1b[]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)  # OSC and the other strings, to BEL or ST
    | \x1b[NO].                                                    # SS2/SS3: keypad and application-mode keys
    | \x1b[ -/]*[0-~]                                              # any other escape sequence, Alt+key included
    | [\x00-\x08\x0a-\x1f\x7f-\x9f]                                # C0 and C1 controls and DEL, all but tab
    """,
    re.VERBOSE | re.DOTALL,
)


def clean(line: str) -> str:
    """A line as task text: what the terminal or the editing left of keys that are not text is removed."""
    return CONTROLS.sub("", line)


@dataclass(frozen=True)
class Entry:
    """What the operator entered: one typed line, or a paste (bracketed, or a burst of lines) as one message."""

    text: str
    """Cleaned lines joined by newlines."""
    pasted: bool = False


def entry_of(raws: list[str], *, pasted: bool = False) -> Entry:
    """The cleaned lines as one entry; more than one line can only have been pasted."""
    lines = [clean(line) for raw in raws for line in raw.split("\n")]
    kept = [line for line in lines if line.strip()] if len(lines) > 1 else lines
    return Entry("\n".join(kept), pasted=pasted or len(lines) > 1)


def waiting(fd: int, seconds: float = BURST_S) -> bool:
    """More input is already there: the line just read is part of a burst."""
    try:
        return bool(select.select([fd], [], [], seconds)[0])
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class PromptState:
    """The operator's line at the moment a message is printed above it."""

    typed: str | None
    """The partly typed line while the prompt is on screen; None when no prompt is."""
    entered: int
    """Lines the operator has entered so far: each one moved the screen on."""


class Prompt(Protocol):
    def hold(self) -> contextlib.AbstractContextManager[PromptState]:
        """The operator's line, kept as it is on screen until the block ends."""

    def redraw(self) -> None:
        """Draw the prompt and the typed text again, at the start of the cursor's line."""


class Reader(Prompt, Protocol):
    async def line(self) -> Entry | None:
        """The next entry, cleaned; None at the end of input."""

    def close(self) -> None: ...


class NoPrompt:
    """Piped input: nothing is typed at the terminal, so nothing is drawn again."""

    @contextlib.contextmanager
    def hold(self) -> Iterator[PromptState]:
        yield PromptState(None, 0)

    def redraw(self) -> None:
        pass


NO_PROMPT = NoPrompt()


def open_reader(out: TextIO, history: Path | None) -> Reader:
    """Readline at a terminal when it imports; otherwise lines as the terminal's own line discipline edits them."""
    if out is sys.stdout and sys.stdin.isatty() and sys.stdout.isatty():
        try:
            import readline
        except ImportError:
            pass
        else:
            return ReadlinePrompt(readline, history)
    return PlainPrompt(out)


def default_history() -> Path | None:
    """The history file in the configured data dir, for a caller that names none."""
    from config.settings import load_settings
    from orchestrator.errors import ConfigError

    try:
        return load_settings().data_dir / HISTORY_FILE
    except ConfigError:
        return None


class PlainPrompt:
    """The console without readline: the prompt is drawn by the loop, typed text is the terminal's to echo (so it
    can't be drawn again), and lines are cleaned of the escape sequences that arrow keys leave in them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lines: asyncio.Queue[Entry | None] = asyncio.Queue()
        self.drawn = False  # a message drew the prompt again since the operator last pressed Enter
        self.entered = 0
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, args=(loop,), name="deputy-stdin", daemon=True).start()

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        encoding = sys.stdin.encoding or "utf-8"
        burst: list[str] = []
        for raw in sys.stdin.buffer:  # bytes, so a line that isn't valid text can't stop the thread
            burst.append(raw.decode(encoding, errors="replace").rstrip("\n"))
            if not waiting(sys.stdin.fileno()):
                loop.call_soon_threadsafe(self._entered, entry_of(burst))
                burst = []
        if burst:
            loop.call_soon_threadsafe(self._entered, entry_of(burst))
        loop.call_soon_threadsafe(self._entered, None)

    def _entered(self, line: Entry | None) -> None:
        self.entered += 1
        self.lines.put_nowait(line)

    async def line(self) -> Entry | None:
        if not self.drawn:  # an instant reply (/status) has already drawn it
            self._write(PROMPT)
        line = await self.lines.get()
        self.drawn = False
        return line

    @contextlib.contextmanager
    def hold(self) -> Iterator[PromptState]:
        yield PromptState("", self.entered)  # the prompt is on screen, or about to be

    def redraw(self) -> None:
        self._write(PROMPT)
        self.drawn = True

    def close(self) -> None:
        pass

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


class ReadlinePrompt:
    """A REPL line: editing, history (in a file, bounded) and Ctrl-L from readline. `input()` runs in a daemon
    thread, which asks for the next line as soon as one is entered, so keys typed ahead are readline's too. A
    message printed meanwhile waits for readline to have drawn its prompt (the pre-input hook says when), so the
    prompt and the typed text can be drawn again below the message."""

    def __init__(self, readline: ModuleType, history: Path | None) -> None:
        self.readline, self.history = readline, history
        self.forced_redisplay = forced_redisplay(readline)
        self.terminal = termios.tcgetattr(sys.stdin.fileno())
        self.state = threading.Condition()
        self.drawing = False  # input() was called and has not drawn its prompt yet
        self.shown = False  # readline is reading: its prompt and the typed text are on screen
        self.entered = 0
        self.lines: asyncio.Queue[Entry | None] = asyncio.Queue()
        self.pasted = threading.Event()
        self.paste_hook = bracketed_paste(readline, self.pasted.set)  # kept: readline holds only its address
        readline.set_auto_history(False)  # cleaned lines go into the history, and no repeats
        readline.set_history_length(HISTORY_LENGTH)
        readline.set_pre_input_hook(self._drawn)
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._serve, args=(loop,), name="deputy-readline", daemon=True).start()

    async def line(self) -> Entry | None:
        return await self.lines.get()

    @contextlib.contextmanager
    def hold(self) -> Iterator[PromptState]:
        with self.state:
            self.state.wait_for(lambda: not self.drawing, timeout=DRAW_WAIT_S)
            yield PromptState(self.readline.get_line_buffer() if self.shown else None, self.entered)

    def redraw(self) -> None:
        if self.forced_redisplay is not None:
            self.forced_redisplay()
            return
        sys.stdout.write(PROMPT + self.readline.get_line_buffer())
        sys.stdout.flush()
        self.readline.redisplay()

    def close(self) -> None:
        """Ctrl-C leaves readline mid-line with the terminal in its raw mode: give the terminal back as it was."""
        with contextlib.suppress(termios.error):
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.terminal)

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        self._load_history()
        while True:
            entry = self._entry()
            with contextlib.suppress(RuntimeError):  # the loop is closed: Deputy is stopping
                loop.call_soon_threadsafe(self.lines.put_nowait, entry)
            if entry is None or entry.text.strip() in QUIT:  # no prompt after the last line
                return

    def _entry(self) -> Entry | None:
        """A line, or the lines of a burst (each read while the next was already waiting) as one entry."""
        raws: list[str] = []
        while (raw := self._read()) is not None:
            raws.append(raw)
            if not waiting(sys.stdin.fileno()):
                break
        if not raws:
            return None
        pasted = self.pasted.is_set()
        self.pasted.clear()
        entry = entry_of(raws, pasted=pasted)
        self._remember(entry.text if "\n" not in entry.text else "")
        return entry

    def _read(self) -> str | None:
        with self.state:
            self.drawing = True
        try:
            line = input(PROMPT)
        except EOFError:
            return None
        except UnicodeDecodeError:
            line = ""
        finally:
            with self.state:
                self.drawing = self.shown = False
                self.entered += 1
                self.state.notify_all()
        return line

    def _drawn(self) -> None:
        with self.state:
            self.drawing, self.shown = False, True
            self.state.notify_all()

    def _load_history(self) -> None:
        self.readline.clear_history()
        if self.history is None:
            return
        with contextlib.suppress(OSError):  # no history file is no reason to stop the console
            self.history.parent.mkdir(parents=True, exist_ok=True)
            self.history.touch(mode=0o600)  # appending needs the file to exist
            self.readline.read_history_file(self.history)

    def _remember(self, line: str) -> None:
        count = self.readline.get_current_history_length()
        if not line.strip() or (count and self.readline.get_history_item(count) == line):
            return
        self.readline.add_history(line)
        if self.history is not None:
            with contextlib.suppress(OSError):
                self.readline.append_history_file(1, self.history)  # then cut to HISTORY_LENGTH lines


def bracketed_paste(readline: ModuleType, noticed: Callable[[], None]) -> object | None:
    """Readline takes a bracketed paste (newlines and all) into the line, for the operator to send with Enter;
    Python turns that off, so it is turned on again, and readline's paste key is wrapped so that Deputy knows
    the line was pasted. None where GNU readline's functions can't be found: a paste with newlines still says so."""
    readline.parse_and_bind("set enable-bracketed-paste on")
    if not readline.__file__:
        return None
    try:
        library = ctypes.CDLL(readline.__file__)  # CDLL: readline reads the rest of the paste without the GIL
        begin, bind = library.rl_bracketed_paste_begin, library.rl_bind_keyseq
    except (OSError, AttributeError):
        return None
    command = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int)
    begin.restype, begin.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_int]
    bind.restype, bind.argtypes = ctypes.c_int, [ctypes.c_char_p, command]

    def paste(count: int, key: int) -> int:
        noticed()
        return int(begin(count, key))

    hook = command(paste)
    bind(PASTE_START, hook)
    return hook


def forced_redisplay(readline: ModuleType) -> Callable[[], object] | None:
    """GNU readline's `rl_forced_update_display`, which draws the prompt and the line afresh with the cursor where
    the operator left it; the module's `redisplay()` only redraws what readline believes changed. PyDLL keeps the
    GIL during the call, so the reading thread can't handle a key at the same time. None where it isn't found."""
    if not readline.__file__:
        return None
    try:
        function = ctypes.PyDLL(readline.__file__).rl_forced_update_display
    except (OSError, AttributeError):
        return None
    function.restype, function.argtypes = ctypes.c_int, []
    return function
