"""The benchmark's SSE client: HTTP framing, the WHATWG event-stream rules, the tallies.

The load generator's figures are only as good as its parser, so the parser
is fed real byte streams split at every possible point.
"""

import asyncio
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given
from hypothesis import strategies as st

from bench.loadgen import (
    MAX_CARRIED_CHUNK,
    Client,
    LeanTally,
    LoadGenerator,
    SseProtocol,
    Storm,
    percentile,
    summarize,
    tally,
)
from tests.servers import QuietHandler, http_server

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


@contextmanager
def _protocol(client: Client) -> Iterator[tuple[SseProtocol, "asyncio.Future[bool]"]]:
    """The client's protocol on a real socket; the test hands it the bytes itself,
    so it decides exactly where the stream is split."""
    loop = asyncio.new_event_loop()
    ours, theirs = socket.socketpair()
    seen: asyncio.Future[bool] = loop.create_future()
    transport, protocol = loop.run_until_complete(
        loop.create_connection(
            lambda: SseProtocol(client, b"GET / HTTP/1.1\r\n\r\n", seen, lambda c: None),
            sock=ours,
        )
    )
    try:
        yield protocol, seen
    finally:
        transport.abort()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        theirs.close()


def _chunked(body: bytes, size: int = 7) -> bytes:
    out = b""
    for start in range(0, len(body), size):
        piece = body[start : start + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out


def _feed(protocol: SseProtocol, data: bytes, cuts: list[int]) -> None:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    for start, end in itertools.pairwise(points):
        protocol.data_received(data[start:end])


EVENTS = (
    b"retry: 3000\n\n"
    b": keep-alive\n\n"
    b'id: 41\nevent: line\ndata: {"text": "BENCH#0@1700000000.000000# hi"}\n\n'
    b"id: 42\r\nevent: line\r\ndata: BENCH#1@1700000000.100000#\r\ndata: second line\r\n\r\n"
    b"id: 43\revent: line\rdata:BENCH#2@1700000000.200000#\r\r"
    b"data: no marker\n\n"
)


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_it_parses_events_however_the_bytes_are_split(cuts):
    client = Client(0)
    with _protocol(client) as (protocol, seen):
        _feed(protocol, HEAD + _chunked(EVENTS), cuts)
        assert seen.result() is True
    assert client.seqs == [0, 1, 2]
    assert client.last_event_id == "43"
    assert client.retry == 3.0
    assert client.comments == 1
    assert client.other_events == 1


def _line_event(seq: int) -> bytes:
    data = f'{{"text": "BENCH#{seq}@1700000000.{seq:06d}# said", "html": "<li>x</li>"}}'
    return f"id: {100 + seq}\nevent: line\ndata: {data}\n\n".encode()


def _as_served() -> list[bytes]:
    """Segments as the hub writes them: whole chunks of one or more line
    events (a replay, a wake), and the odd keep-alive or retry between."""
    return [
        _chunked(b"retry: 2500\n\n" + _line_event(0), size=10_000),
        _chunked(_line_event(1), size=10_000),
        _chunked(b"".join(_line_event(seq) for seq in range(2, 6)), size=10_000),
        _chunked(b": keep-alive\n\n", size=10_000),
        _chunked(_line_event(6), size=10_000) + _chunked(_line_event(7), size=10_000),
        _chunked(_line_event(8) + b"event: reload\ndata: {}\n\n", size=10_000),
        # A line of the channel's history, written before the bench's marker.
        _chunked(b'id: 42\nevent: line\ndata: {"text": "hello"}\n\n', size=10_000),
        _chunked(_line_event(9), size=10_000),
    ]


@given(st.lists(st.lists(st.integers(min_value=0, max_value=10_000), max_size=3), max_size=7))
def test_whole_line_events_and_split_ones_count_the_same(cuts):
    client = Client(0)
    with _protocol(client) as (protocol, _):
        segments = _as_served()
        segments[0] = HEAD + segments[0]  # the headers and the first write, together
        for segment, segment_cuts in zip(segments, cuts + [[]] * len(segments), strict=False):
            _feed(protocol, segment, segment_cuts)
    assert client.seqs == list(range(10))
    assert client.last_event_id == "109"
    assert (client.retry, client.comments, client.reloads, client.other_events) == (2.5, 1, 1, 1)


def test_the_common_segment_is_read_whole_in_one_pass():
    client = Client(0)
    with _protocol(client) as (protocol, _):
        protocol.data_received(HEAD)
        first, whole, replay, keepalive, two_chunks, _, unmarked, _ = _as_served()
        now = time.time()
        assert protocol._whole_line_events(unmarked, now) == unmarked  # the general parser's
        assert protocol._whole_line_events(first, now) == b""  # a retry, then a line
        assert protocol._whole_line_events(whole, now) == b""
        # Read up to what is not a line event; the rest is the general parser's.
        assert protocol._whole_line_events(replay + keepalive, now) == keepalive
        protocol.data_received(keepalive)
        assert protocol._whole_line_events(two_chunks, now) == b""
        # A replay in pieces: the chunk the segment cuts short waits for its end.
        eight, nine = _chunked(_line_event(8), size=10_000), _chunked(_line_event(9), size=10_000)
        protocol.data_received(eight + nine[:3])
        assert protocol.carried == nine[:3]
        protocol.data_received(nine[3:-5])
        assert protocol.carried == nine[:-5]
        protocol.data_received(nine[-5:])
        assert protocol.carried == b""
        assert (protocol.raw, protocol.pending) == (b"", b"")  # the general parser saw none of it
    assert client.seqs == list(range(10))
    assert client.last_event_id == "109"
    assert client.retry == 2.5


@given(st.lists(st.integers(min_value=0, max_value=40_000), max_size=6))
def test_a_replay_in_one_long_chunk_is_read_in_one_pass_however_it_is_cut(cuts):
    """A replay too long to wait for its chunk's end, cut anywhere: its events
    are still read whole, none line by line."""
    client = Client(0)
    events = b"retry: 900\n\n" + b"".join(_line_event(seq) for seq in range(300))
    replay = _chunked(events, size=100_000)
    assert len(replay) > MAX_CARRIED_CHUNK
    with _protocol(client) as (protocol, _):
        read_by_line: list[bytes] = []
        by_line = protocol._line

        def counted(line: bytes, now: float) -> None:
            read_by_line.append(line)
            by_line(line, now)

        protocol._line = counted  # type: ignore[method-assign]
        protocol.data_received(HEAD)
        _feed(protocol, replay, cuts)
    assert client.seqs == list(range(300))
    assert (client.last_event_id, client.retry) == ("399", 0.9)
    assert read_by_line == []


def test_it_reads_a_stream_without_chunked_coding_and_drops_a_leading_bom():
    client = Client(0)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n"
    with _protocol(client) as (protocol, _):
        protocol.data_received(head + b"\xef\xbb\xbfdata: BENCH#7@1700000000.5#\n\n")
    assert client.seqs == [7]
    chunked = Client(1)
    with _protocol(chunked) as (protocol, _):
        protocol.data_received(HEAD + _chunked(b"\xef\xbb\xbf" + _line_event(3), size=10_000))
    assert chunked.seqs == [3]


@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=6),
        min_size=1,
        max_size=8,
    )
)
def test_the_one_pass_tally_counts_as_the_general_parser_does(writes):
    """Lines in any order, repeated or skipped, tallied lean: each segment read
    whole, and the same bytes read by the general parser alone, count the same."""
    tallies = []
    for read_whole in (True, False):
        generator = LoadGenerator("http://127.0.0.1:9/stream", 1, 1.0, follow=True, lean=True)
        [client] = generator.clients
        with _protocol(client) as (protocol, _):
            protocol.lean = generator.lean
            protocol.data_received(HEAD)
            if not read_whole:  # only _line reads the events
                protocol._whole_line_events = lambda data, now: data  # type: ignore[method-assign]
                protocol._whole_events = lambda text, now: text  # type: ignore[method-assign]
            for seqs in writes:
                segment = b"".join(_chunked(_line_event(seq), size=10_000) for seq in seqs)
                if read_whole:
                    assert protocol._whole_line_events(segment, time.time()) == b""
                else:
                    protocol.data_received(segment)
        lean = generator.lean
        assert lean is not None
        counted = (client.received, client.highest, client.gaps, client.repeated)
        tallies.append((*counted, client.out_of_order, client.last_event_id, lean.repeats))
        assert sum(lean.latency_ms.values()) == client.received - client.repeated
    assert tallies[0] == tallies[1]


def test_it_counts_a_non_200_answer_as_a_failed_connection():
    client = Client(0)
    with _protocol(client) as (protocol, seen):
        protocol.data_received(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        assert seen.result() is False
    assert client.failed.startswith("HTTP/1.1 503")
    assert not client.connected


def test_it_counts_missed_duplicated_and_out_of_order_lines_per_client():
    generator = LoadGenerator("http://127.0.0.1:9/stream", 2, 1.0)
    perfect, sloppy = generator.clients
    perfect.seqs, sloppy.seqs = [0, 1, 2], [0, 2, 2, 1]
    for client in generator.clients:
        client.latencies = [0.01 * (index + 1) for index in range(len(client.seqs))]
        client.receipts = [100.0 + latency for latency in client.latencies]
    result = summarize(generator, published=4, cpu=1.0, wall=2.0)
    assert result["missed"] == 1 + 1  # seq 3 reached neither client
    assert result["duplicated"] == 1
    assert result["out_of_order"] == 1
    assert result["clients_missing_lines"] == 2
    assert result["fanout_complete_lines"] == 3
    assert result["loadgen_cpu"] == 0.5


def test_the_end_of_a_chunked_body_ends_the_stream_as_a_browser_sees_it():
    # gunicorn keeps the connection for keep-alive after a stream's last
    # chunk; EventSource reconnects at the end of the body, not of the socket.
    client = Client(0)
    lost: list[Client] = []
    loop = asyncio.new_event_loop()
    ours, theirs = socket.socketpair()
    seen: asyncio.Future[bool] = loop.create_future()
    transport, protocol = loop.run_until_complete(
        loop.create_connection(
            lambda: SseProtocol(client, b"GET / HTTP/1.1\r\n\r\n", seen, lost.append), sock=ours
        )
    )
    try:
        protocol.data_received(HEAD + _chunked(b"retry: 700\n\n") + b"0\r\n\r\n")
        loop.run_until_complete(asyncio.sleep(0.01))
        assert lost == [client]
        assert client.retry == 0.7
    finally:
        transport.abort()
        loop.close()
        theirs.close()


def test_it_tallies_lost_repeated_and_late_lines_against_what_the_database_holds():
    generator = LoadGenerator("http://127.0.0.1:9/stream", 3, 1.0, follow=True, lean=True)
    perfect, sloppy, late = generator.clients
    for seq in [0, 1, 3]:  # seq 2 was never committed
        perfect.count(seq)
    for seq in [0, 3, 1, 1]:  # 1 arrives after 3, then again
        sloppy.count(seq)
    late.count(1)  # missed 0, and 3
    result = tally(generator, expected=[0, 1, 3])
    assert result["lost"] == 2
    assert result["lost_seqs"] == {0: 1, 3: 1}
    assert result["clients_with_lost"] == 1
    assert result["repeated"] == 1
    assert result["out_of_order"] == 1
    assert result["deliveries"] == 3 + 4 + 1


def test_its_latency_histogram_answers_percentiles_in_milliseconds():
    lean = LeanTally()
    latencies = [ms / 1000 for ms in range(1, 101)]
    lean.add(latencies)
    for fraction in (0.5, 0.99, 1.0):
        assert lean.percentile(fraction) == percentile(latencies, fraction)
    assert LeanTally().percentile(0.5) is None


def test_lines_skipped_by_a_reload_event_come_with_the_page_not_lost():
    generator = LoadGenerator("http://127.0.0.1:9/stream", 1, 1.0, follow=True, lean=True)
    [client] = generator.clients
    with _protocol(client) as (protocol, _):
        protocol.lean = generator.lean
        events = b"id: 10\nevent: line\ndata: BENCH#0@1700000000.0#\n\n"
        events += b"id: 90\nevent: reload\ndata: {}\n\n"
        events += b"id: 91\nevent: line\ndata: BENCH#5@1700000000.5#\n\n"
        protocol.data_received(HEAD + _chunked(events))
    result = tally(generator, expected=[0, 1, 2, 3, 4, 5])
    assert (result["lost"], result["reloads"], result["reloaded_lines"]) == (0, 1, 4)
    assert client.last_event_id == "91"


def test_an_hour_of_expected_lines_gets_its_tally():
    """``expect`` carries every seq the soak wrote: 36,000 for an hour at 10/s,
    over 200 KB on one line. asyncio's reader refused lines past 64 KiB, the
    command never arrived, and the soak's lost/repeated came back empty."""
    seqs = list(range(36_000))
    with _streaming_server() as url:
        command = [sys.executable, "-m", "bench.loadgen", url, "--clients=2", "--follow"]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            assert json.loads(process.stdout.readline())["ready"] == 2
            # The answer ends the load generator; without it, this times out.
            rest, _ = process.communicate("expect " + json.dumps(seqs) + "\n", timeout=60)
        finally:
            process.kill()
            process.wait()
    answer = json.loads(rest.splitlines()[0])
    assert answer["result"]["expected_lines"] == 36_000
    assert answer["result"]["clients"] == 2


@contextmanager
def _streaming_server() -> Iterator[str]:
    """An SSE endpoint that answers every request with headers and holds it open."""
    done = threading.Event()

    class Stream(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"c\r\nretry: 1000\n\r\n")
            self.wfile.flush()
            done.wait(30)

    with http_server(Stream) as url:
        try:
            yield f"{url}/stream/"
        finally:
            done.set()


def test_a_drop_seen_before_the_fault_command_arrives_counts_in_its_storm():
    # The benchmark tells the load generator of a fault on its stdin and
    # strikes at once; a busy generator reads the command after the first
    # streams have already ended. Their drops counted in no storm: a restart
    # of 10,000 streams "dropped" 7,184, and its downtimes left out the first.
    generator = LoadGenerator("http://127.0.0.1:9/stream", 3, 1.0, follow=True)
    generator.running = False  # nobody reconnects here: no event loop runs
    generator.storms.append(Storm("reload", time.time() - 60))  # an earlier fault
    before, early, later = generator.clients
    struck = time.time()
    generator.lost(early)  # ended by the fault, before its command was read
    early.connected, early.streaming_since = True, time.time()  # and back already
    generator.fault("restart", at=struck)
    generator.lost(later)
    summary = generator.storm_summary()
    assert summary["dropped"] == 2 and summary["not_back"] == 1
    assert early.dropped_at is not None and early.back_at == early.streaming_since
    assert before.dropped_at is None


def test_a_client_is_back_when_its_response_headers_come_not_when_its_task_runs_next(
    monkeypatch,
):
    # In a storm the generator's loop is busy with thousands of clients: a
    # reconnect's task resumed seconds after its response headers had come,
    # and "all back" took those seconds for the server's (a restart: every
    # stream open 19.8 s after the fault by the generator's own count, all
    # back 32.2 s after the first drop).
    accept = SseProtocol._accept

    def busy_once_accepted(self, head):
        accepted = accept(self, head)
        asyncio.get_running_loop().call_soon(time.sleep, 0.5)  # the other clients
        return accepted

    monkeypatch.setattr(SseProtocol, "_accept", busy_once_accepted)
    with _streaming_server() as url:
        generator = LoadGenerator(url, 1, 10.0, follow=True)
        [client] = generator.clients
        client.dropped_at = time.time()  # ended by a fault

        async def reconnect() -> None:
            await generator.connect(client)
            generator.transports[client.index].close()

        asyncio.run(reconnect())
    assert client.streaming_since > 0 and client.back_at == client.streaming_since
