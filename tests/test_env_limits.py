"""The TWOLAYER_<LIMIT> environment variables: all checked at every command's start, whether or not
the command reads them (a garbage value or a misspelt name is one line and exit 2)."""

import pytest

from twolayer.checks import LIMITS, check_limits
from twolayer.cli import main
from twolayer.errors import InputError


def _one_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("twolayer: error: "), err
    return err


@pytest.mark.parametrize("value", ["abc", "-1", "0", "", "1.5", "1e3", "0x10"])
@pytest.mark.parametrize("name", ["MAX_CLASSES", "MAX_PICKLE_BYTES", "MAX_GZIP_RATIO"])
def test_a_garbage_limit_is_refused_by_a_command_that_never_reads_it(
    name, value, monkeypatch, capsys
):
    monkeypatch.setenv(f"TWOLAYER_{name}", value)
    assert main(["gradcheck"]) == 2  # gradcheck reads no limit at all
    assert f"TWOLAYER_{name} must be a positive integer" in _one_line(capsys)
    with pytest.raises(ValueError, match=f"TWOLAYER_{name} must be a positive integer"):
        check_limits()


@pytest.mark.parametrize("command", [["gradcheck"], ["report", "nowhere"], ["evaluate", "x.npz"]])
def test_every_command_checks_the_limits_first(command, monkeypatch, capsys):
    monkeypatch.setenv("TWOLAYER_MAX_ELEMENTS", "lots")
    assert main(command) == 2
    assert "TWOLAYER_MAX_ELEMENTS" in _one_line(capsys)


@pytest.mark.parametrize("typo", ["TWOLAYER_MAX_CLASS", "TWOLAYER_MAX_ELEMENT", "TWOLAYER_MAX_"])
def test_a_misspelt_limit_is_refused_not_ignored(typo, monkeypatch, capsys):
    monkeypatch.setenv(typo, "5")
    assert main(["gradcheck"]) == 2
    assert f"{typo} is not a limit" in _one_line(capsys)


def test_good_limits_pass(monkeypatch):
    for name in LIMITS:
        monkeypatch.setenv(f"TWOLAYER_{name}", "1_000_000")
    check_limits()
    monkeypatch.setenv("TWOLAYER_MAX_CLASSES", "bad")
    with pytest.raises(InputError):
        check_limits()
