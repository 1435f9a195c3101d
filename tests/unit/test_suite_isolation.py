"""The suite's own isolation (tests/conftest.py): what one test leaves behind in the process."""

from __future__ import annotations

import io
import logging

from bridge.keeper.logfmt import configure_logging
from tests.conftest import root_logger_put_back


def test_a_cli_logging_setup_is_undone_after_the_test() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    stream = io.StringIO()
    with root_logger_put_back():
        logging.basicConfig(stream=stream, force=False)
        configure_logging("INFO", "text")  # what `bridge keeper run` does in-process
        assert root.level == logging.INFO
        assert any(type(h) is logging.StreamHandler for h in root.handlers)
    stream.close()
    assert root.level == level
    assert [h for h in root.handlers if type(h) is logging.StreamHandler] == [
        h for h in before if type(h) is logging.StreamHandler]
    logging.getLogger("bridge.keeper.pricing").warning("after the test")  # no closed stream
