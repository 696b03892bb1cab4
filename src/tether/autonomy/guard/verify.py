"""Running a command for the agent — the configured tests and linters, or a command the leash
allowed: in the workspace, in the sandbox (sandbox.py), with a timeout, its output capped, and an
environment built from an allow-list.

The command's whole process group is killed at the timeout, so a test that hangs or forks
cannot outlive the step."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ...config import Config
from ...errors import Cancelled, ConfigError, TetherError
from ...layering import DEFAULTS, KEYS
from . import sandbox, survey


class SandboxUnavailable(TetherError):
    """Checks would run model-written code unconfined, and the user has not chosen that."""


class CheckUnavailable(ConfigError):
    """A check command cannot start (no such program): found before the model is called, not after its edit."""


DEFAULT_TIMEOUT = DEFAULTS["verify"]["timeout"]
DEFAULT_OUTPUT_CAP = DEFAULTS["verify"]["output_cap"]  # characters of output kept: the head and the tail, which hold the news


@dataclass
class CommandResult:
    command: str
    code: int | None  # None: killed at the timeout
    output: str
    seconds: float
    truncated: bool = False
    wrote: list[str] = dataclasses.field(default_factory=list)  # workspace files it created, changed or deleted (watch.py)
    refused: str = ""  # a write hook refused what it wrote (put back): it fails whatever its exit code

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.refused

    def summary(self, failures: int | None = None, command: bool = True) -> str:
        """The command, its status and output; with `failures`, the output is cut to that many
        failure reports and the last line (what a model needs to fix the code, at a tenth of the tokens).
        `command=False` leaves out the command line, for a caller that labels the text with it."""
        status = ("timed out" if self.code is None else f"exit {self.code}") + (", what it wrote refused by a hook" if self.refused else "")
        output = self.output if failures is None else excerpt(self.output, failures)
        cut = self.truncated or output != self.output
        return (f"$ {self.command}\n" if command else "") + f"({status}, {self.seconds:.1f}s{', output cut' if cut else ''})\n{output}"


def failure_report(checks: list[CommandResult], wrap, failures: int = 1) -> str:
    """The checks that fail, as a model is shown them: each under its command (`wrap(label, text)`
    fences it as data), cut to its first `failures` reports. One report: a small model fixes one
    failure a turn, and every prompt token is read again on each later turn."""
    return "\n".join(wrap(c.command, c.summary(failures, command=False)) for c in checks if not c.ok)


# the exception a failure ends in: pytest's "E   NameError: …" and "FAILED t.py::x - NameError: …", unittest's "NameError: …"
_RAISED = re.compile(r"^(?:E\s+|FAILED \S+ - )?([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))\b", re.M)
_ASSERTED = re.compile(r"^E\s+(?:assert\b|Failed: DID NOT RAISE)", re.M)  # pytest's rewritten `assert x == y`, and `pytest.raises`


def wrong_values(checks: list[CommandResult]) -> bool:
    """Whether every failing check fails on an assertion only: the code ran and gave wrong answers.
    An exception the code raised (a missing name, a bad index, a syntax error) points at a line
    to fix; a wrong answer needs the algorithm rethought."""
    failing = [c for c in checks if not c.ok]
    return bool(failing) and all(_asserted_only(c) for c in failing)


def _asserted_only(check: CommandResult) -> bool:
    """Finished, and every exception it names is an AssertionError (pytest's rewritten asserts name none)."""
    names = set(raised(check.output))
    return check.code is not None and names <= {"AssertionError"} and bool(names or _ASSERTED.search(check.output))


def raised(output: str) -> list[str]:
    """The exceptions a check's output names, in order, without their module (`JSONDecodeError`)."""
    return [name.rsplit(".", 1)[-1] for name in _RAISED.findall(output)]


_WHY = (  # a failure's own line, most telling first: pytest's "E   assert …", an exception's line, a FAILED/FAIL summary
    re.compile(r"^E\s+(\S.*)$", re.M),
    re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*)$", re.M),
    re.compile(r"^((?:FAILED|FAIL:|ERROR:?) \S.*)$", re.M),
)


def first_failure(check: CommandResult) -> str:
    """The one line that says why a failing check failed (its first assertion or exception, else
    its last line of output), for a result a person reads at a glance; not redacted here."""
    if check.code is None:
        return "timed out"
    if check.refused:
        return check.refused
    for pattern in _WHY:
        if m := pattern.search(check.output):
            return m.group(1).strip()
    lines = [line.strip() for line in check.output.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {check.code}"


_SECTION = re.compile(r"^(?:_{3,} .+ _{3,}|={3,}\s*$|(?:FAIL|ERROR): .+)$", re.M)  # pytest's and unittest's failure headers
_RECAP = re.compile(r"^=+ short test summary info =+$", re.M)
# difflib's guide lines ("?   ^") and unittest's note that it cut a diff: tokens that tell a model nothing
_NOISE = re.compile(r"^(?:E\s+)?(?:\?\s[\s^+\-]*|Diff is \d+ characters long\. Set self\.maxDiff to None to see it\.)$")


def excerpt(output: str, failures: int = 2, max_lines: int = 60) -> str:
    """The first `failures` failure reports (each to its last 20 lines, where the assertion is)
    and the final line, without lines that tell a model nothing; output with no failure headers
    keeps its head and tail."""
    output = "".join(line for line in output.splitlines(keepends=True) if not _NOISE.match(line.rstrip("\n")))
    lines = output.rstrip("\n").splitlines()
    heads = [m.start() for m in _SECTION.finditer(output) if not m.group().startswith("=")]
    if len(heads) > failures:
        recap = _RECAP.search(output)
        end = recap.start() if recap else len(output)
        kept = []
        for start, stop in zip(heads[:failures], heads[1 : failures + 1], strict=False):
            block = output[start : min(stop, end)].rstrip("\n").splitlines()
            kept += block[:1] + (["…"] if len(block) > 21 else []) + block[1:][-20:]
        return "\n".join(kept + [f"… {len(heads) - failures} more failure(s) like these", lines[-1]]) + "\n"
    if len(lines) <= max_lines:
        return output
    return "\n".join(lines[:15] + [f"… {len(lines) - max_lines + 15} lines cut …"] + lines[-(max_lines - 15) :]) + "\n"


@dataclass(frozen=True)
class VerifySettings:
    commands: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    output_cap: int = DEFAULT_OUTPUT_CAP
    sandbox: str = "auto"  # "auto": bubblewrap where it works; "off": the user chose to run commands unconfined
    env: tuple[str, ...] = ()  # environment variables the user lets commands see, beyond the allow-list
    writable: tuple[str, ...] = ()  # workspace-relative globs checks may write freely: not read-only, not watched (sandbox.py)

    @classmethod
    def from_config(cls, config: Config, root: Path, commands: tuple[str, ...] | None = None) -> "VerifySettings":
        spec = config.extra.get("verify", {})
        where = f"{config.where('verify')}: [verify]"
        if not isinstance(spec, dict) or set(spec) - set(KEYS["verify"]):
            raise ConfigError(f"{where} takes {', '.join(KEYS['verify'])}")
        listed = spec.get("commands", None)
        if listed is not None and not (isinstance(listed, list) and all(isinstance(c, str) and c.strip() for c in listed)):
            raise ConfigError(f"{where} commands must be a list of command lines")
        env = spec.get("env", [])
        if not (isinstance(env, list) and all(isinstance(e, str) and e for e in env)):
            raise ConfigError(f"{where} env must be a list of environment variable names")
        if spec.get("sandbox", "auto") not in ("auto", "off"):
            raise ConfigError(f'{where} sandbox must be "auto" or "off" (got {spec["sandbox"]!r})')
        try:
            timeout, cap = float(spec.get("timeout", DEFAULT_TIMEOUT)), int(spec.get("output_cap", DEFAULT_OUTPUT_CAP))
        except (TypeError, ValueError):
            raise ConfigError(f"{where} timeout and output_cap must be numbers") from None
        if not (0 < timeout < float("inf")) or cap <= 0:
            raise ConfigError(f"{where} timeout and output_cap must be above 0 (got {timeout:g}, {cap})")
        chosen = commands if commands is not None else tuple(listed) if listed is not None else detect(root)
        return cls(tuple(chosen), timeout, cap, spec.get("sandbox", "auto"), tuple(env), _globs(spec.get("writable", []), where))

    def within(self, seconds: float) -> "VerifySettings":
        """These settings with the timeout cut to what is left of a run's time."""
        return dataclasses.replace(self, timeout=min(self.timeout, seconds))

    def startable(self, root: Path) -> None:
        """Every check's program can be found the way the sandboxed run will look for it (the
        sandbox's PATH, relative paths from the workspace); else one error names the first that cannot."""
        path = sandbox.environment(str(root), self.env)["PATH"]
        for command in self.commands:
            argv, problem = _argv(command)
            program = argv[0] if argv else ""
            if not problem and shutil.which(str(root / program) if "/" in program else program, path=path) is None:
                problem = (
                    f"{program} is not an executable file in the workspace"
                    if "/" in program
                    else f"{program} is not found on the PATH checks run with ({path})"
                )
            if problem:
                raise CheckUnavailable(f"the check {command!r} cannot start: {problem}; fix --verify or [verify] commands")

    def confined(self) -> bool:
        """Whether commands will run in the sandbox; raises where they should and cannot."""
        if self.sandbox == "off":
            return False
        if sandbox.bubblewrap() is None:
            raise SandboxUnavailable(
                "checks run code the model wrote, and no sandbox is available here (Linux with bubblewrap:"
                ' `apt-get install bubblewrap`); set [verify] sandbox = "off" in tether.toml to run them unconfined'
            )
        return True


def _globs(value, where: str) -> tuple[str, ...]:
    """`[verify] writable`: workspace-relative globs, never absolute and never climbing out."""
    if not (isinstance(value, list) and all(isinstance(g, str) and g.strip("/ ") for g in value)):
        raise ConfigError(f'{where} writable must be a list of workspace-relative paths or globs (such as "node_modules")')
    for glob in value:
        if glob.startswith(("/", "~")) or ".." in glob.replace("\\", "/").split("/"):
            raise ConfigError(f"{where} writable: {glob!r} is not inside the workspace (give a path relative to it)")
    return tuple(g.strip().strip("/") for g in value)


def detect(root: Path) -> tuple[str, ...]:
    """With no commands configured: pytest, when the workspace plainly has Python tests."""
    markers = [root / "pytest.ini", root / "conftest.py", root / "tests", root / "test"]
    if any(p.exists() for p in markers) or any(root.glob("test_*.py")) or any(root.glob("*_test.py")):
        return ("python -m pytest -q --tb=short --no-header -p no:cacheprovider",)
    return ()


def run_command(command: str, root: Path, settings: VerifySettings, confined: bool = True, watch=None, cancel=None) -> CommandResult:
    """Run one command line (no shell) in the workspace; `confined` runs it in the sandbox, and a
    run's `watch` (watch.py) learns what it wrote. A Stop (`cancel` set) kills its process group
    and raises Cancelled — after what it wrote has been looked at, as for any other end."""
    argv, problem = _argv(command)
    if problem:
        return CommandResult(command, 127, problem, 0.0)
    looked = confined or watch is not None
    before = survey.survey(root, settings.writable) if looked else survey.Survey()
    if watch is not None:
        watch.before(before)
    stopped = None
    with tempfile.TemporaryDirectory(prefix="tether-run-") as tmp:  # its HOME and TMPDIR, gone after it
        try:
            result = _run(
                command,
                argv if not confined else sandbox.wrap(argv, root, tmp, before.protected),
                root,
                sandbox.environment(tmp, settings.env),
                settings.timeout,
                settings.output_cap,
                cancel,
            )
        except (Cancelled, KeyboardInterrupt) as e:  # Stop, Ctrl-C or SIGTERM: what it wrote is still looked at, and undone
            stopped, result = e, CommandResult(command, None, "stopped", 0.0)
    after, notes = _look_after(root, before, settings.writable, confined) if looked else (before, [])
    result.output += "".join(f"\n{line}" for line in notes)
    if watch is not None:
        result.wrote, note = watch.after(before, after)
        result.refused = "" if stopped is not None else watch.judged(result.wrote)  # a stopped run puts it all back anyway
        result.output += note + (f"\n[{result.refused}]" if result.refused else "")
    if stopped is not None:
        raise stopped
    return result


def _look_after(root: Path, before: survey.Survey, writable: tuple[str, ...], confined: bool) -> tuple[survey.Survey, list[str]]:
    """The workspace after a command, once what it may not leave is put right (survey.tidy), and
    the lines that say what was done and what could not be seen."""
    after = survey.survey(root, writable, reopen=before)
    done = survey.tidy(root, before, after, confined)
    if done:
        after = survey.survey(root, writable, reopen=before)
    return after, done + after.gaps()


def _argv(command: str) -> tuple[list[str], str]:
    """A command line's argv (no shell), or why it has none."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        return [], f"cannot parse the command: {e}"
    return argv, "" if argv else "empty command"


STOP_POLL = 0.1  # seconds between looks at a Stop while a command runs


def _run(command: str, argv: list[str], root: Path, env: dict, timeout: float, output_cap: int, cancel=None) -> CommandResult:
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
    except OSError as e:
        return CommandResult(command, 127, f"cannot run {argv[0]}: {e.strerror or e}", time.monotonic() - start)
    try:
        data, code = _wait(proc, timeout, cancel)
    except BaseException:  # Ctrl-C or Stop: the command goes with us
        _kill(proc)
        raise
    text = data.decode("utf-8", "replace")
    truncated = len(text) > output_cap
    if truncated:
        half = output_cap // 2
        text = f"{text[:half]}\n… [{len(text) - output_cap} characters cut] …\n{text[-half:]}"
    return CommandResult(command, code, text, time.monotonic() - start, truncated)


def _wait(proc: subprocess.Popen, timeout: float, cancel) -> tuple[bytes, int | None]:
    """The command's output and exit code (None: killed at the timeout); a Stop raises Cancelled."""
    end = time.monotonic() + timeout
    while True:
        try:
            data, _ = proc.communicate(timeout=timeout if cancel is None else max(0.0, min(STOP_POLL, end - time.monotonic())))
            return data, proc.returncode
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                raise Cancelled("stopped while a check ran") from None
            if time.monotonic() >= end:
                _kill(proc)
                return proc.communicate()[0], None


_COUNT = re.compile(r"(\d+) (passed|failed|error|errors)\b")
_RAN = re.compile(r"^Ran (\d+) tests? in ", re.M)  # unittest's summary
_NOT_RUN = re.compile(r"\b(?:skipped|expected failures)=(\d+)")  # of those, unittest's that reached no verdict


def score(results: list[CommandResult]) -> tuple[int, int, int]:
    """How good a candidate is by its checks: commands passed, tests passed, tests failed (fewer
    is better). Test counts are read from pytest's summary line when there is one."""
    counts = [_pytest_counts(r.output) for r in results]
    return sum(r.ok for r in results), sum(p for p, _ in counts), -sum(f for _, f in counts)


def ran_tests(results: list[CommandResult]) -> int:
    """Tests the checks brought to a verdict, passed or failed (pytest's and unittest's summaries):
    fewer after a change than before it means tests were removed, skipped or deselected."""
    total = 0
    for r in results:
        passed, failed = _pytest_counts(r.output)
        tail = r.output[-2000:]
        ran = sum(int(n) for n in _RAN.findall(tail))
        total += passed + failed + (ran - sum(int(n) for n in _NOT_RUN.findall(tail)) if ran else 0)
    return total


def _pytest_counts(output: str) -> tuple[int, int]:
    """(passed, failed or in error) from pytest's summary line at the end of `output`."""
    passed = failed = 0
    for number, word in _COUNT.findall(output[-2000:]):
        if word == "passed":
            passed += int(number)
        else:
            failed += int(number)
    return passed, failed


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
