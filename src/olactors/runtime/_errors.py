"""The runtime's exception hierarchy.

A caller catches exactly what it can handle::

    ActorError
    ├── MailboxFull              tell_nowait found the mailbox at capacity
    ├── ActorStopped             the actor is gone for good; its mailbox is closed
    ├── ActorNotFound            no actor or supervisor at that path
    ├── AskTimeout               no reply within the ask's timeout (also a TimeoutError)
    ├── MessageDropped      the asked message crashed its actor too often
    ├── ReplyAbandoned           the actor deferred its reply, then ended without it
    ├── ChildStartFailed         a child's factory or ``started()`` hook raised
    ├── DuplicateChild           a supervisor already has a child of that name
    ├── RestartIntensityExceeded a supervisor gave up and escalates to its parent
    ├── RestartsExhausted        a child kept crashing past its backoff's max_tries
    ├── TopLevelFailure          the root supervisor gave up: the system stops
    ├── SystemHalted             code called ``halt()``: the system stopped on purpose
    └── InjectedCrash            a crash injected on purpose (``inject_crash``, ``[chaos]``)
"""

from __future__ import annotations


class ActorError(Exception):
    """Base class of every error the runtime raises on purpose."""


class MailboxFull(ActorError):
    """``tell_nowait`` could not enqueue because the mailbox is at capacity."""

    def __init__(self, path: str, capacity: int) -> None:
        super().__init__(f"mailbox of {path} is full ({capacity} messages)")
        self.path = path
        self.capacity = capacity


class ActorStopped(ActorError):
    """The actor stopped for good; nothing will read its mailbox again."""

    def __init__(self, path: str) -> None:
        super().__init__(f"actor {path} is stopped")
        self.path = path


class ActorNotFound(ActorError, LookupError):
    """No actor or supervisor is registered at the path."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no actor at {path}")
        self.path = path


class AskTimeout(ActorError, TimeoutError):
    """No reply arrived within the ask's timeout. A later reply is dropped."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(f"{path} did not reply within {timeout:g} s")
        self.path = path
        self.timeout = timeout


class MessageDropped(ActorError):
    """The asked message crashed its actor too many times and was dead-lettered."""

    def __init__(self, path: str, crashes: int, error: BaseException) -> None:
        super().__init__(
            f"message to {path} dead-lettered after {crashes} crashes: "
            f"{type(error).__name__}: {error}"
        )
        self.path = path
        self.crashes = crashes
        self.error = error


class ReplyAbandoned(ActorError):
    """The actor deferred its reply and its incarnation ended before answering."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} ended before answering a deferred ask")
        self.path = path


class ChildStartFailed(ActorError):
    """A child could not start: its factory or its ``started()`` hook raised."""

    def __init__(self, path: str, error: BaseException) -> None:
        super().__init__(f"{path} failed to start: {type(error).__name__}: {error}")
        self.path = path
        self.error = error


class DuplicateChild(ActorError):
    """A supervisor already has a child with that name."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} already exists")
        self.path = path


class RestartIntensityExceeded(ActorError):
    """More restarts than ``max_restarts`` within ``within_s``: the supervisor gives up.

    Its children are stopped, and its parent sees this as the supervisor's crash.
    """

    def __init__(self, path: str, max_restarts: int, within_s: float) -> None:
        super().__init__(f"supervisor {path} exceeded {max_restarts} restart(s) in {within_s:g} s")
        self.path = path
        self.max_restarts = max_restarts
        self.within_s = within_s


class TopLevelFailure(ActorError):
    """The root supervisor exceeded its restart intensity: the whole system stopped."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"top-level supervisor failed: {type(cause).__name__}: {cause}")
        self.cause = cause


class SystemHalted(ActorError):
    """Code asked the system to stop (``ActorSystem.halt`` / ``ActorContext.halt``).

    Raised by ``ActorSystem.run`` once the orderly shutdown that the halt
    began has finished; ``exit_code`` is what the process should exit with.
    The only way for actor code to stop the process: ``sys.exit()`` in a
    handler is an ordinary crash, for its supervisor.
    """

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(f"halted (exit {exit_code}): {reason}")
        self.reason = reason
        self.exit_code = exit_code


class RestartsExhausted(ActorError):
    """A child crashed ``tries`` times without staying up ``reset_after_s``: its
    supervisor gave up on backoff and escalates (Akka's ``maxNrOfRetries``)."""

    def __init__(self, path: str, child: str, tries: int, reset_after_s: float) -> None:
        super().__init__(
            f"supervisor {path} gave up on {child}: {tries} restarts "
            f"without staying up {reset_after_s:g} s"
        )
        self.path = path
        self.child = child
        self.tries = tries


class InjectedCrash(ActorError):
    """A crash injected on purpose (``ActorSystem.inject_crash``; the ``[chaos]`` hook).

    Raised in a task of the actor's own nursery, never inside its handler, so
    the actor's code cannot catch it: its supervisor sees an ordinary crash of
    a background task, and the message in hand counts as crashed.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"crash injected into {path}: {reason}")
        self.path = path
        self.reason = reason
