"""The pipe protocols: every line, in order, cut where too long; many verbose runs share the loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from airflow_provider_rocky._engine import streams


async def read_lines(
    code: str, *, limit: int = 1024, on_line: streams.RawLineSink | None = None
) -> tuple[list[bytes], streams.LineReader]:
    """Run ``code`` in a real process and read its stdout with a LineReader."""
    got: list[bytes] = []
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    reader = streams.LineReader(on_line or got.append, limit)
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(lambda: reader, proc.stdout)
    try:
        await reader.done
    finally:
        transport.close()
        proc.wait()
    return got, reader


def test_lines_split_across_writes_come_whole_and_a_last_line_without_newline_counts() -> None:
    code = (
        "import sys, time\n"
        "out = sys.stdout.buffer\n"
        "for part in (b'one\\ntw', b'o\\n\\nthr', b'ee', b'\\nfour'):\n"
        "    out.write(part); out.flush(); time.sleep(0.05)\n"
    )
    got, _ = asyncio.run(read_lines(code))
    assert got == [b"one", b"two", b"", b"three", b"four"]


def test_a_line_longer_than_the_limit_is_cut_also_across_chunks() -> None:
    code = (
        "import sys, time\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'x' * 300 + b'\\nstart'); out.flush(); time.sleep(0.05)\n"
        "for _ in range(5):\n"
        "    out.write(b'y' * 30); out.flush(); time.sleep(0.02)\n"
        "out.write(b'\\nshort\\n' + b'z' * 170); out.flush()\n"
    )
    got, _ = asyncio.run(read_lines(code, limit=100))  # 60 bytes kept, 40 left for the notice
    assert got[0] == b"x" * 60 + b" ... [cut 240 more bytes]"
    assert got[1] == b"start" + b"y" * 55 + b" ... [cut 95 more bytes]"
    assert got[2:] == [b"short", b"z" * 60 + b" ... [cut 110 more bytes]"]
    assert all(len(line) <= 100 for line in got)


def test_a_slow_sink_pauses_the_pipe_and_lets_the_loop_run_between_turns() -> None:
    """A verbose run must not hold the loop: other tasks run while its lines are logged."""
    lines = 3000
    code = f"import sys\nsys.stdout.write(''.join(f'line {{i}}\\n' for i in range({lines})))\n"
    turns = 0
    seen_at: list[int] = []
    paused: list[bool] = []

    def slow(line: bytes) -> None:
        seen_at.append(turns)
        paused.append(not transport_reading())
        deadline = time.perf_counter() + 0.0002  # ~a logger call, a few times over
        while time.perf_counter() < deadline:
            pass

    reader_box: list[streams.LineReader] = []

    def transport_reading() -> bool:
        transport = reader_box[0]._transport
        return transport is not None and transport.is_reading()

    async def main() -> list[bytes]:
        nonlocal turns
        stop = asyncio.Event()

        async def other_task() -> None:
            nonlocal turns
            while not stop.is_set():
                turns += 1
                await asyncio.sleep(0)

        other = asyncio.create_task(other_task())
        got: list[bytes] = []

        def sink(line: bytes) -> None:
            got.append(line)
            slow(line)

        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        reader = streams.LineReader(sink, 1024)
        reader_box.append(reader)
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(lambda: reader, proc.stdout)
        await reader.done
        transport.close()
        proc.wait()
        stop.set()
        await other
        return got

    got = asyncio.run(main())
    assert got == [f"line {i}".encode() for i in range(lines)]  # every line, in order
    # 3,000 lines at >= 0.2 ms each take >= 0.6 s, over 100 budgets of 5 ms: the other task ran in
    # between (at least once per budget), and the pipe was paused meanwhile.
    assert seen_at[-1] - seen_at[0] >= 0.6 / streams.ITERATION_BUDGET / 2
    assert any(paused)


def test_runs_on_one_loop_share_one_budget_per_iteration() -> None:
    """Two readers with lines pending in the same iteration: the second waits for the next one."""

    async def main() -> tuple[list[str], float]:
        order: list[str] = []
        loop = asyncio.get_running_loop()
        budget = streams._LoopBudget.of(loop)
        budget.charge(streams.ITERATION_BUDGET * 10)  # the iteration's budget is spent already
        first = streams.LineReader(lambda line: order.append("a"), 64)
        second = streams.LineReader(lambda line: order.append("b"), 64)
        first.data_received(b"1\n" * 20)
        second.data_received(b"1\n" * 20)
        handled_now = len(order)
        await asyncio.sleep(0.05)
        return order, handled_now

    order, handled_now = asyncio.run(main())
    assert handled_now <= 2 * 8  # each handled one turn of lines at most, over budget
    assert order.count("a") == 20 and order.count("b") == 20  # then everything, later


def test_output_keeper_counts_past_the_cap_and_keeps_nothing() -> None:
    async def main(cap: int) -> tuple[bytes, int, bool]:
        keeper = streams.OutputKeeper(cap)
        for chunk in (b"a" * 10, b"b" * 10, b"c" * 10):
            keeper.data_received(chunk)
        keeper.connection_lost(None)
        await keeper.done
        return keeper.value(), keeper.seen, keeper.overflow

    assert asyncio.run(main(100)) == (b"a" * 10 + b"b" * 10 + b"c" * 10, 30, False)
    assert asyncio.run(main(25)) == (b"", 30, True)


class _RecordingTransport(asyncio.ReadTransport):
    """A pipe's transport that records what the reader asks of it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def close(self) -> None:
        self.calls.append("close")


def test_a_busy_pipe_is_read_in_batches_not_line_by_line() -> None:
    """An engine flushing every line woke a fast reader per line (8,784 reads for 10,000 lines).

    Chunks closer together than ``BUSY_GAP_SECONDS`` mark the pipe busy: once their lines are handed
    on, the reader pauses the pipe and resumes it ``COALESCE_SECONDS`` later, so the next read takes
    what piled up meanwhile. A chunk after a longer gap is read on at once. The loop's clock is the
    test's, so the gaps are exact; how many reads a real engine's lines then take is a figure for
    benchmarks (it depends on the machine's scheduling), not an assertion here.
    """

    async def main() -> tuple[list[bytes], list[str], list[str], list[str], list[str]]:
        loop = asyncio.get_running_loop()
        now = [1000.0]
        loop.time = lambda: now[0]  # type: ignore[method-assign]
        got: list[bytes] = []
        reader = streams.LineReader(got.append, 1024)
        transport = _RecordingTransport()
        reader.connection_made(transport)
        reader.data_received(b"a\n")
        first = list(transport.calls)
        now[0] += streams.BUSY_GAP_SECONDS / 2
        reader.data_received(b"b\nc\n")
        busy = list(transport.calls)
        now[0] += streams.COALESCE_SECONDS / 2
        await asyncio.sleep(0)
        still = list(transport.calls)
        now[0] += streams.COALESCE_SECONDS
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        resumed = list(transport.calls)
        now[0] += 10 * streams.BUSY_GAP_SECONDS
        reader.data_received(b"d\n")
        return got, first, busy, still, [*resumed, "|", *transport.calls[len(resumed) :]]

    got, first, busy, still, later = asyncio.run(main())
    assert got == [b"a", b"b", b"c", b"d"]
    assert first == [], "a lone chunk is read on at once"
    assert busy == ["pause"], "a chunk right after another pauses the pipe once its lines are handed on"
    assert still == ["pause"], "the pipe stays paused for the coalescing window"
    assert later == ["pause", "resume", "|"], "then it is read again; a chunk after a long gap is not paused"
