from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from edge_agent.commands import CommandRunner
from edge_agent.outbox import Outbox
from edge_agent.recorder import Recorder
from protocols import envelope
from protocols.messages import AGENT_TARGET, CommandBody, EventBody, ResultBody, ResultStatus
from tests.edge_agent.fakes import FakeConfig, FakeDriver


class Harness:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        loop = asyncio.get_running_loop()
        self.recorder = Recorder(outbox, loop, on_commit=lambda: None)
        self.driver = FakeDriver(FakeConfig(id="fake-1"), self.recorder.emitter("fake-1"))
        self.rebirths = 0
        self.runner = CommandRunner(
            outbox, self.recorder, {"fake-1": self.driver}, rebirth=self._rebirth, on_result=lambda: None
        )

    def _rebirth(self) -> None:
        self.rebirths += 1

    def cmd(
        self, device: str, action: str, args: dict[str, object] | None = None, **kw: object
    ) -> CommandBody:
        fields: dict[str, object] = {
            "cmd_id": uuid.uuid4(),
            "device": device,
            "action": action,
            "args": args or {},
            "expires_at": time.time() + 60,
        }
        fields.update(kw)
        return CommandBody.model_validate(fields)

    def results(self) -> list[ResultBody]:
        out = []
        for entry in self.outbox.pending_from(0, 1000):
            _, env = envelope.decode(entry.topic, entry.payload)
            if isinstance(env.body, ResultBody):
                out.append(env.body)
        return out

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)


def scenario(tmp_path: Path, body: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        outbox = Outbox.open(tmp_path, "agent-1", 100)
        try:
            h = Harness(outbox)
            await body(h)
            await h.runner.cancel_all()
        finally:
            outbox.close()

    asyncio.run(main())


def test_outcomes(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        cmds = [
            h.cmd("fake-1", "echo", {"x": 1}),
            h.cmd("fake-1", "fail"),
            h.cmd("fake-1", "boom"),
            h.cmd("fake-1", "bad"),
            h.cmd("fake-1", "teleport"),
            h.cmd("printer-9", "echo"),
            h.cmd("fake-1", "echo", expires_at=time.time() - 1),
            h.cmd(AGENT_TARGET, "rebirth"),
            h.cmd(AGENT_TARGET, "reboot"),
        ]
        for c in cmds:
            h.runner.submit(c)
        await h.settle()
        got = {r.cmd_id: (r.status, r.error) for r in h.results()}
        outcome = [got[c.cmd_id] for c in cmds]
        assert [s for s, _ in outcome] == [
            ResultStatus.DONE,
            ResultStatus.FAILED,
            ResultStatus.FAILED,
            ResultStatus.REJECTED,
            ResultStatus.REJECTED,
            ResultStatus.REJECTED,
            ResultStatus.EXPIRED,
            ResultStatus.DONE,
            ResultStatus.REJECTED,
        ]
        assert outcome[1][1] == "paper jam"
        assert outcome[2][1] == "RuntimeError: driver bug"
        assert next(r for r in h.results() if r.cmd_id == cmds[0].cmd_id).result == {
            "x": 1,
            "cmd_id": str(cmds[0].cmd_id),
        }  # the runner adds the id
        assert h.rebirths == 1
        assert [a for a, _ in h.driver.executed] == [
            "echo",
            "fail",
            "boom",
            "bad",
        ]  # not the rejected/expired

    scenario(tmp_path, body)


def test_at_most_once_per_cmd_id(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        c = h.cmd("fake-1", "echo", {"x": 1})
        h.runner.submit(c)
        h.runner.submit(c)  # redelivered while running
        await h.settle()
        h.runner.submit(c)  # repeated while its result is still in the outbox: nothing new
        await h.settle()
        assert len(h.driver.executed) == 1
        assert len(h.results()) == 1
        h.outbox.ack([e.msg_id for e in h.outbox.pending_from(0, 10)])
        h.runner.submit(c)  # repeated after the result was acknowledged: the stored result again
        await h.settle()
        assert len(h.driver.executed) == 1
        (again,) = h.results()
        assert (again.cmd_id, again.status, again.result) == (
            c.cmd_id,
            ResultStatus.DONE,
            {"x": 1, "cmd_id": str(c.cmd_id)},
        )

    scenario(tmp_path, body)


def test_interrupted_command_is_not_run_again(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        c = h.cmd("fake-1", "echo")
        h.outbox.command_started(c.cmd_id)  # as if the agent died while running it
        h.runner.submit(c)
        await h.settle()
        assert h.driver.executed == []
        (result,) = h.results()
        assert result.status is ResultStatus.FAILED
        assert result.error is not None
        assert "interrupted" in result.error

    scenario(tmp_path, body)


def test_events_of_a_command_precede_its_result(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        async def emitting(action: str, args: dict[str, object]) -> dict[str, object]:
            for n in range(3):
                h.driver.emit("page", {"n": n})
            return {"pages": 3}

        h.driver.execute = emitting  # type: ignore[assignment,method-assign]
        h.runner.submit(h.cmd("fake-1", "echo"))
        await h.settle()
        kinds = []
        for entry in h.outbox.pending_from(0, 10):
            _, env = envelope.decode(entry.topic, entry.payload)
            kinds.append(type(env.body))
        assert kinds == [EventBody, EventBody, EventBody, ResultBody]

    scenario(tmp_path, body)
