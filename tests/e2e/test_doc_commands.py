"""Every code block a reader copies from the README and ``docs/`` runs, or says why not.

- Shell blocks (```` ```sh ````, ``bash``, ``shell``) are run, in page order, one page per test,
  as a reader would type them: one shell session per page (``export`` carries over), a line
  ending in ``&`` started in the background (``bridge devnet … &`` is waited for until it prints
  ``ready``), each other line must exit 0 without a traceback. What differs from a reader's
  terminal: a fresh directory (with a copy of ``examples/``) instead of the checkout, the devnet
  on a free port instead of 8545 (``127.0.0.1:8545`` in the page and in the copied
  ``examples/devnet/prover.toml`` are moved there), ``bridge`` and ``.venv/bin/bridge`` running
  this interpreter's package, and a private ``BRIDGE_HOME``.
- A block that is not meant to run is preceded by ``<!-- norun: why -->``, or is a transcript or
  a listing (```` ```console ````). A Python block is either included from a tested file with
  ``--8<--`` (mkdocs' snippets, so the code shown is the code tested) or marked ``norun``.

So an unmarked shell block that fails fails here, and a new block cannot skip CI unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_LANGS = ("sh", "bash", "shell")
NORUN = re.compile(r"^\s*<!--\s*norun:\s*\S.*-->\s*$")
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    line: int
    lang: str
    text: str
    norun: bool

    @property
    def included(self) -> bool:
        """The block's body is a snippet include (``--8<-- "file"``), so it is a tested file."""
        body = [x.strip() for x in self.text.splitlines() if x.strip()]
        return bool(body) and all(x.startswith("--8<--") for x in body)


def doc_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` (fences may be indented, as in an admonition)."""
    lines = path.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(2):
            i += 1
            continue
        indent, lang = m.group(1), m.group(2)
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        prev = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        body = "\n".join(x[len(indent):] if x.startswith(indent) else x for x in lines[i + 1:j])
        name = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
        found.append(Block(name, i + 1, lang, body,
                           bool(NORUN.match(prev))))
        i = j + 1
    return found


def runnable_pages() -> list[str]:
    return [str(p.relative_to(REPO)) for p in doc_pages()
            if any(b.lang in RUN_LANGS and not b.norun and not b.included for b in blocks(p))]


def test_every_code_block_runs_or_says_why_not() -> None:
    unmarked = []
    for page in doc_pages():
        for b in blocks(page):
            if b.lang == "python" and not (b.norun or b.included):
                unmarked.append(f"{b.page}:{b.line}: a python block: include it from a tested "
                                "file (--8<--) or mark it <!-- norun: why -->")
    assert not unmarked, "\n".join(unmarked)
    pages = runnable_pages()
    # the pages the brief names: the README's first proof and the participant guide's round
    assert "README.md" in pages and "docs/user/requester.md" in pages, pages


def test_the_block_parser_sees_marks_includes_and_indented_fences(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("# t\n\n```sh\necho a\n```\n\n<!-- norun: long-running -->\n```sh\nsleep 1d\n"
                    "```\n\n??? example\n\n    ```python\n    --8<-- \"x.py\"\n    ```\n")
    found = [(b.lang, b.norun, b.included, b.text) for b in blocks(page)]
    assert found == [("sh", False, False, "echo a"), ("sh", True, False, "sleep 1d"),
                     ("python", False, True, '--8<-- "x.py"')]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _commands(text: str) -> list[str]:
    """Shell lines of a block, continuation lines joined, comments and blank lines dropped."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = pending + raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        if line.strip() and not line.strip().startswith("#"):
            out.append(line.strip())
    return out


BACKGROUND = re.compile(r"^(?P<cmd>.*?)\s*&\s*(#.*)?$")


class Session:
    """One reader's terminal: a directory, an environment that ``export`` changes, and the
    processes started with ``&``."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.background: list[tuple[subprocess.Popen[bytes], Path]] = []
        bindir = root / ".venv" / "bin"
        bindir.mkdir(parents=True)
        shim = bindir / "bridge"
        shim.write_text(f"#!/bin/sh\nexec {sys.executable} -c "
                        "'import sys; from bridge.cli import main; sys.exit(main())' \"$@\"\n")
        shim.chmod(0o755)
        shutil.copytree(REPO / "examples", root / "examples")
        for toml in (root / "examples").rglob("*.toml"):
            toml.write_text(toml.read_text().replace("127.0.0.1:8545", f"127.0.0.1:{port}"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        env["BRIDGE_HOME"] = str(root / "home")
        if "PYTHONPATH" in env:  # a checkout under test: keep it first, absolute
            env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve())
                                                for p in env["PYTHONPATH"].split(os.pathsep) if p)
        self.env = env
        self.state = root / ".env.sh"
        self.state.write_text("")

    def adapt(self, cmd: str) -> str:
        cmd = cmd.replace("127.0.0.1:8545", f"127.0.0.1:{self.port}")
        if re.search(r"\bbridge devnet\b", cmd) and "--port" not in cmd:
            cmd = re.sub(r"\bbridge devnet\b", f"bridge devnet --port {self.port}", cmd, count=1)
        return cmd

    def run(self, where: str, line: str) -> None:
        cmd = self.adapt(line)
        bg = BACKGROUND.match(cmd)
        if bg and not cmd.rstrip().endswith("&&"):
            log = self.root / f"bg-{len(self.background)}.log"
            proc = subprocess.Popen(["bash", "-c", f"source {self.state}; {bg.group('cmd')}"],
                                    cwd=self.root, env=self.env, stdout=log.open("wb"),
                                    stderr=subprocess.STDOUT, start_new_session=True)
            self.background.append((proc, log))
            if re.search(r"\bbridge devnet\b", cmd):
                self._wait_for(proc, log, "ready", where, line)
            return
        done = subprocess.run(
            ["bash", "-c", f"set -e; source {self.state}; {cmd}\nexport -p > {self.state}"],
            cwd=self.root, env=self.env, capture_output=True, text=True, timeout=600,
            check=False)
        out = done.stdout + done.stderr
        assert done.returncode == 0 and "Traceback" not in out, (
            f"{where}: `{line}` exited {done.returncode}:\n{out[-3000:]}\n{self.logs()}")
        self.check_background(where)

    def check_background(self, where: str) -> None:
        """A process started with ``&`` (a devnet, an agent) must still run."""
        for proc, log in self.background:
            assert proc.poll() is None, (f"{where}: the background command of {log.name} "
                                         f"exited {proc.returncode}:\n{self.logs()}")

    def _wait_for(self, proc: subprocess.Popen[bytes], log: Path, word: str, where: str,
                  line: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if word in log.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"{where}: `{line}` did not print {word!r}:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {log.name} (background):\n{log.read_text(errors='replace')[-2000:]}"
                         for _, log in self.background)

    def stop(self) -> None:
        for proc, _ in reversed(self.background):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in reversed(self.background):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)




@pytest.mark.slow
@pytest.mark.realtime  # a devnet process and shell commands
@pytest.mark.parametrize("page", runnable_pages())
def test_the_shell_blocks_of_a_page_run_against_a_devnet(page: str, tmp_path: Path) -> None:
    session = Session(tmp_path, _free_port())
    try:
        for b in blocks(REPO / page):
            if b.lang not in RUN_LANGS or b.norun or b.included:
                continue
            for line in _commands(b.text):
                session.run(f"{b.page}:{b.line}", line)
    finally:
        session.stop()
