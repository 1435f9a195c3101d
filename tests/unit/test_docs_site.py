"""The documentation site builds strictly (``make docs``): a broken link, a missing page or a
snippet that does not resolve fails here, in ``make test``. And the README stays a landing page
whose links resolve."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(config), "--site-dir", str(site)], cwd=config.parent, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.realtime  # mkdocs in a subprocess
def test_the_site_builds_strictly_with_every_page_in_the_navigation(tmp_path: Path) -> None:
    done = _build(REPO / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "WARNING" not in done.stderr, done.stderr[-4000:]
    # every page of docs/ is in the navigation (an orphan page is a warning, hence fatal)
    pages = {p.relative_to(REPO / "docs").with_suffix(".html")
             for p in (REPO / "docs").rglob("*.md")}
    assert all((tmp_path / "site" / p).is_file() for p in pages)
    # the plugin example is the tested file, included, not a copy
    plugin = (tmp_path / "site" / "integrating" / "plugin.html").read_text()
    assert "test_my_app_gets_a_checked_proof" in plugin and "--8&lt;--" not in plugin


@pytest.mark.realtime  # mkdocs in a subprocess
def test_a_broken_link_or_a_missing_snippet_fails_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "docs", copy / "docs")
    shutil.copy(REPO / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(REPO / "examples", copy / "examples")
    shutil.copy(REPO / "README.md", copy / "README.md")
    assert _build(copy / "mkdocs.yml", tmp_path / "ok").returncode == 0
    page = copy / "docs" / "user" / "prover.md"
    original = page.read_text()
    page.write_text(original + "\nSee [the gone page](gone.md).\n")
    broken = _build(copy / "mkdocs.yml", tmp_path / "broken")
    assert broken.returncode != 0 and "gone.md" in broken.stderr, broken.stderr[-3000:]
    page.write_text(original + '\n```python\n--8<-- "examples/no_such_file.py"\n```\n')
    missing = _build(copy / "mkdocs.yml", tmp_path / "missing")
    assert missing.returncode != 0 and "no_such_file.py" in missing.stderr, missing.stderr[-3000:]


def test_the_readme_is_a_landing_page_whose_links_resolve() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) < 200
    for heading in ("## Two commands", "## A first proof in five commands", "## Documentation"):
        assert heading in text
    first = text[text.index("[start:first-proof]"):text.index("[end:first-proof]")]
    commands = [x for x in first.splitlines() if x.startswith(".venv/bin/bridge") or
                x.startswith(("BRIDGE_PRIVATE_KEY=", "export "))]
    assert len(commands) == 5, commands
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert links
    for link in links:
        if not link.startswith(("http://", "https://")):
            assert (REPO / link).exists(), f"README links to {link}, which does not exist"
