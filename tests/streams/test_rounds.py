from __future__ import annotations

import asyncio

from streams.rounds import Rounds


def test_asking_waits_for_a_round_that_starts_after_the_question() -> None:
    """A round under way when a replay asks may have read its server before the replay's
    change: the answer is the end of the next one, which starts without waiting out the
    pause."""

    async def main() -> list[str]:
        rounds, said = Rounds(), []
        proceed = asyncio.Event()

        async def poller() -> None:
            while True:
                rounds.begin()
                said.append(f"round {rounds.started}")
                await proceed.wait()
                rounds.end()
                await rounds.pause(3600)

        polling = asyncio.create_task(poller())
        await asyncio.sleep(0)  # round 1 under way
        asking = asyncio.create_task(rounds.ask())
        await asyncio.sleep(0)
        proceed.set()  # round 1 ends: not the answer
        await asyncio.wait_for(asking, 1)  # round 2 started at once and ended
        said.append(f"answered after {rounds.finished}")
        await asyncio.wait_for(rounds.ask(), 1)  # idle: the pause is cut short
        said.append(f"answered after {rounds.finished}")
        polling.cancel()
        return said

    assert asyncio.run(main()) == ["round 1", "round 2", "answered after 2", "round 3",
                                   "answered after 3"]


def test_a_stopped_loop_answers_at_once() -> None:
    """A poller that stopped for good (its library missing, say) must not hold a replay."""

    async def main() -> None:
        rounds = Rounds()
        waiting = asyncio.create_task(rounds.ask())
        await asyncio.sleep(0)
        rounds.close()
        await asyncio.wait_for(waiting, 1)
        await asyncio.wait_for(rounds.ask(), 1)

    asyncio.run(main())
