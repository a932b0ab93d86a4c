"""No lost events: the statements of a Python thread between two of its blocking
points are one turn, as a synchronous run of JavaScript is under node
(docs/threading.md#turns). A listener attached in the statement after the call
that made an emitter catches every event of later ticks, and background
JavaScript still runs while Python sleeps, waits or computes."""

import sys
import threading
import time

import pytest

import pymport_py

TRIALS = 200
WAIT = 10  # seconds: a lost event shows as this wait running out
SWITCH_INTERVAL = sys.getswitchinterval()  # restored after each trial (threads run trials at once)

MAKE_EMITTER = """() => {
  const { EventEmitter } = require('events');
  const e = new EventEmitter();
  setImmediate(() => e.emit('ready', 42));
  return e;
}"""


def _missed(make_and_listen, trials=TRIALS):
    """Runs make_and_listen(event) `trials` times; returns how many events never came.

    A turn lasts until the thread blocks or a switch interval ends
    (docs/threading.md#turns): on a loaded machine 5 ms can pass between two
    statements, so the trial's statements run with a 1 s interval. What is
    checked is that nothing else lets the event loop in between them."""
    missed = 0
    for _ in range(trials):
        got = threading.Event()
        sys.setswitchinterval(1.0)
        try:
            make_and_listen(got)
        finally:
            sys.setswitchinterval(SWITCH_INTERVAL)
        if not got.wait(WAIT):
            missed += 1
    return missed


@pytest.fixture(params=["main", "worker"])
def steady_env(request):
    """`env` for the no-lost-event trials. A turn also ends when calls have
    come back to back for ten switch intervals, a wall-clock limit that the
    OS can use up between two statements on a loaded machine (a descheduled
    thread): the Worker is made under a 1 s interval, which it keeps as its
    limit (10 s). The main environment keeps its 50 ms."""
    if request.param == "main":
        yield pymport_py
        return
    sys.setswitchinterval(1.0)
    try:
        worker = pymport_py.Worker()
    finally:
        sys.setswitchinterval(SWITCH_INTERVAL)
    with worker:
        yield worker


def test_listener_attached_in_the_next_statement_catches_a_setimmediate_event(steady_env):
    env = steady_env
    make = env.eval(MAKE_EMITTER)

    def trial(got):
        e = make()
        e.on("ready", lambda value: got.set())

    assert _missed(trial) == 0


def test_listener_attached_after_python_work_catches_the_event(steady_env):
    env = steady_env
    make = env.eval(MAKE_EMITTER)

    def trial(got):
        e = make()
        sum(range(2000))  # Python runs on, without blocking
        e.on("ready", lambda value: got.set())

    assert _missed(trial) == 0


@pytest.fixture
def tcp_port(npm_dir):
    server = pymport_py.eval("""(() => {
      const server = require('net').createServer(socket => socket.end());
      server.listen(0, '127.0.0.1');
      return server;
    })()""")
    listening = threading.Event()
    server.on("listening", lambda: listening.set())
    if not server.listening:
        assert listening.wait(30)
    yield server.address().port
    server.close()


def test_net_connect_then_on_connect_loses_no_event(tcp_port):
    net = pymport_py.require("net")

    def trial(got):
        socket = net.connect(tcp_port, "127.0.0.1")
        socket.on("connect", lambda: got.set())
        socket.on("close", lambda had_error: socket.destroy())

    assert _missed(trial) == 0


def test_sockets_made_in_a_burst_each_get_their_connect(tcp_port):
    net = pymport_py.require("net")
    connected = []
    everyone = threading.Event()
    count = 100

    def on_connect():
        connected.append(1)
        if len(connected) == count:
            everyone.set()

    sockets = []
    for _ in range(count):
        socket = net.connect(tcp_port, "127.0.0.1")
        socket.on("connect", on_connect)
        sockets.append(socket)
    assert everyone.wait(60), f"{len(connected)} of {count} connect events came"
    for socket in sockets:
        socket.destroy()


def test_websocket_open_is_never_missed(npm_dir):
    ws = pymport_py.require("ws")
    server = ws.WebSocketServer.new({"port": 0, "host": "127.0.0.1"})
    listening = threading.Event()
    server.on("listening", lambda: listening.set())
    assert listening.wait(30)
    url = f"ws://127.0.0.1:{server.address().port}"
    try:
        def trial(got):
            client = ws.WebSocket.new(url)
            client.on("open", lambda: (got.set(), client.close()))

        assert _missed(trial) == 0
    finally:
        server.close()


def test_many_threads_attaching_listeners_lose_nothing(steady_env):
    env = steady_env
    make = env.eval(MAKE_EMITTER)
    missed = []

    def worker():
        def trial(got):
            e = make()
            e.on("ready", lambda value: got.set())

        missed.append(_missed(trial, trials=40))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert missed == [0] * 8


def _ticks(env):
    """A JS interval counting its ticks; returns (read, stop)."""
    counter = env.eval("""(() => {
      const c = { ticks: 0 };
      c.timer = setInterval(() => { c.ticks++; }, 1);
      return c;
    })()""")
    return (lambda: counter.ticks), (lambda: env.eval("clearInterval")(counter.timer))


def _until(condition, seconds=30):
    limit = time.monotonic() + seconds
    while time.monotonic() < limit:
        if condition():
            return True
        time.sleep(0.001)
    return False


def test_timers_run_while_python_sleeps(env):
    ticks, stop = _ticks(env)
    try:
        start = ticks()
        assert _until(lambda: ticks() >= start + 20)
    finally:
        stop()


def test_timers_run_while_python_computes_without_blocking(env):
    ticks, stop = _ticks(env)
    try:
        start = ticks()
        limit = time.monotonic() + 30
        # Pure Python, never blocking: the loop thread gets in at switch
        # intervals. The count is read through the interval's own object, so
        # this also makes calls in between.
        while ticks() < start + 20 and time.monotonic() < limit:
            sum(range(20000))
        assert ticks() >= start + 20
    finally:
        stop()


def test_timers_run_while_python_calls_javascript_back_to_back(env):
    ticks, stop = _ticks(env)
    identity = env.eval("x => x")
    try:
        start = ticks()
        limit = time.monotonic() + 30
        while ticks() < start + 5 and time.monotonic() < limit:
            for i in range(100):
                identity(i)
        assert ticks() >= start + 5
    finally:
        stop()


def test_turn_holds_events_across_a_blocking_call(env):
    make = env.eval(MAKE_EMITTER)

    def trial(got):
        with env.turn():
            e = make()
            time.sleep(0.002)  # would let the loop thread run without the block
            e.on("ready", lambda value: got.set())

    assert _missed(trial, trials=50) == 0


def test_turn_pauses_the_event_loop_until_the_block_ends(env):
    ticks, stop = _ticks(env)
    try:
        assert _until(lambda: ticks() > 0)
        with env.turn():
            before = ticks()
            time.sleep(0.05)
            assert ticks() == before  # no timer ran during the block
        assert _until(lambda: ticks() > before)
    finally:
        stop()


def test_turns_nest(env):
    ticks, stop = _ticks(env)
    try:
        assert _until(lambda: ticks() > 0)
        with env.turn():
            with env.turn():
                before = ticks()
            time.sleep(0.05)
            assert ticks() == before  # the outer block still holds it
        assert _until(lambda: ticks() > before)
    finally:
        stop()


def test_waiting_for_a_promise_inside_turn_raises(env):
    promise = env.eval("new Promise(r => setTimeout(() => r(7), 10))")
    with env.turn():
        with pytest.raises(RuntimeError, match="turn"):
            promise.result()
    assert promise.result() == 7


def test_other_threads_still_call_while_a_turn_is_held(env):
    add = env.eval("(a, b) => a + b")
    results = []
    with env.turn():
        t = threading.Thread(target=lambda: results.append(add(2, 3)))
        t.start()
        t.join(30)
    assert results == [5]


def test_shutdown_while_a_thread_holds_a_turn(run_python):
    proc = run_python("""
        import threading, time
        import pymport_py
        w = pymport_py.Worker()
        w.eval("setInterval(() => {}, 1)")
        held = threading.Event()
        def hold():
            with w.turn():
                held.set()
                time.sleep(1)
        t = threading.Thread(target=hold)
        t.start()
        held.wait(30)
        w.close()          # the loop thread, waiting for the turn, stops
        t.join(30)
        print("closed", w.running)
    """, timeout=60)
    assert proc.returncode == 0, proc.report
    assert "closed False" in proc.stdout, proc.report


def test_turn_of_a_closed_environment_raises():
    w = pymport_py.Worker()
    w.close()
    with pytest.raises(pymport_py.EnvironmentClosed):
        with w.turn():
            pass
