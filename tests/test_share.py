"""Python objects sent between worker_threads without a copy: pymport's share()
and fromShared() (docs/javascript.md#sharing-python-objects-between-threads)."""
import pymport_py

WAIT = 60  # seconds: ends a wait that would otherwise hang; a passing test never reaches it

# Starts a worker_thread running `source` and sends it `message`; resolves
# with the worker's first message. `source` sees `send(value)`.
ROUND_TRIP = """(source, message) => new Promise((resolve, reject) => {
  const { Worker } = require('worker_threads');
  const w = new Worker(`
    const { parentPort } = require('worker_threads');
    const { share, fromShared, pyval, proxify, PyObject } = require('pymport');
    const send = (value) => parentPort.postMessage(value);
    parentPort.once('message', (m) => { ${source} });
  `, { eval: true });
  w.on('message', (m) => { resolve(m); w.terminate(); });
  w.on('error', reject);
  w.postMessage(message);
})"""


class Box:
    def __init__(self, value):
        self.value = value


def test_a_shared_object_arrives_as_the_same_python_object(env):
    items = [1, 2]
    box = Box(items)
    out = env.eval("""(box, items) => new Promise((resolve, reject) => {
      const { Worker } = require('worker_threads');
      const { share, fromShared, PyObject } = require('pymport');
      const o = PyObject.fromJS(box);
      const w = new Worker(`
        const { parentPort } = require('worker_threads');
        const { share, fromShared } = require('pymport');
        parentPort.once('message', (m) => {
          const o = fromShared(m.box), items = fromShared(m.items);
          items.get('append').call(3);             // mutates the Python list itself
          o.get('__setattr__').call('seen', true);
          parentPort.postMessage({ id: o.id, itemsId: items.id, back: share(o) });
        });
      `, { eval: true });
      w.on('message', (m) => {
        // the token that came back gives the PyObject this environment already had
        resolve([m.id, m.itemsId, fromShared(m.back) === o]);
        w.terminate();
      });
      w.on('error', reject);
      w.postMessage({ box: share(o), items: share(PyObject.fromJS(items)) });
    })""")(pymport_py.ref(box), pymport_py.ref(items)).result(WAIT)
    object_id, items_id, same = out.to_py()
    assert (object_id, items_id, same) == (id(box), id(items), True)
    assert items == [1, 2, 3] and box.seen is True


def test_an_object_made_in_a_worker_thread_is_shared_with_the_main_thread(env):
    # The worker makes a dict, shares it and keeps it; Python changes it; the
    # worker sees the change in its own PyObject.
    got = []
    out = env.eval("""(got) => new Promise((resolve, reject) => {
      const { Worker } = require('worker_threads');
      const { fromShared } = require('pymport');
      const w = new Worker(`
        const { parentPort } = require('worker_threads');
        const { pyval, share } = require('pymport');
        const d = pyval('{"made": "in a worker"}');
        parentPort.postMessage({ d: share(d), id: d.id });
        parentPort.once('message', () => parentPort.postMessage({ seen: d.item('python').toJS() }));
      `, { eval: true });
      w.once('message', (m) => {
        got(fromShared(m.d), m.id);     // Python changes it, synchronously
        w.once('message', (m2) => { resolve(m2.seen); w.terminate(); });
        w.postMessage('look');
      });
      w.on('error', reject);
    })""")

    def take(d, worker_id):
        got.append((d, worker_id))
        d["python"] = "changed from Python"

    seen = out(take).result(WAIT)
    (d, worker_id), = got
    assert d == {"made": "in a worker", "python": "changed from Python"}
    assert id(d) == worker_id
    assert seen == "changed from Python"


def test_worker_threads_share_an_object_through_a_message_channel(env):
    # Worker A makes a list and sends it to worker B through a MessageChannel
    # (no main thread in between); B appends; A sees the append.
    out = env.eval("""() => new Promise((resolve, reject) => {
      const { Worker, MessageChannel } = require('worker_threads');
      const { fromShared } = require('pymport');
      const { port1, port2 } = new MessageChannel();
      const a = new Worker(`
        const { parentPort, workerData: { port } } = require('worker_threads');
        const { pyval, share } = require('pymport');
        const list = pyval('["from A"]');
        port.postMessage(share(list));
        port.once('message', (m) => {
          parentPort.postMessage({ list: share(list), sameId: m.id === list.id, seen: list.toJS() });
          port.close();
        });
      `, { eval: true, workerData: { port: port1 }, transferList: [port1] });
      const b = new Worker(`
        const { workerData: { port } } = require('worker_threads');
        const { fromShared } = require('pymport');
        port.once('message', (token) => {
          const list = fromShared(token);
          list.get('append').call('from B');
          port.postMessage({ id: list.id });
          port.close();
        });
      `, { eval: true, workerData: { port: port2 }, transferList: [port2] });
      a.on('message', (m) => resolve([fromShared(m.list), m.sameId, m.seen]));
      a.on('error', reject);
      b.on('error', reject);
    })""")().result(WAIT)
    shared, same_id, seen = out.to_py()
    assert shared == ["from A", "from B"] and same_id is True and seen == ["from A", "from B"]


def test_proxified_objects_and_python_functions_can_be_shared():
    def triple(x):
        return 3 * x

    box = Box(7)
    # Python values reach JS as arguments: a function, and a box by reference.
    message = pymport_py.eval("""(f, p) => {
      const { share, proxify, PyObject } = require('pymport');
      return { f: share(f), p: share(proxify(PyObject.fromJS(p))) };
    }""")(triple, pymport_py.ref(box))
    out = pymport_py.eval(ROUND_TRIP)("""
        const f = fromShared(m.f), p = proxify(fromShared(m.p));
        send([f.call(5).toJS(), p.value.toJS()]);
    """, message).result(WAIT)
    assert out.to_py() == [15, 7]


def test_a_token_works_in_several_threads_and_more_than_once():
    # postMessage clones the token: three workers each get a copy, and one of
    # them turns its copy into a PyObject twice (the same PyObject).
    box = Box("shared by three")
    out = pymport_py.eval("""(box) => {
      const { Worker } = require('worker_threads');
      const { share, fromShared, PyObject } = require('pymport');
      const token = share(PyObject.fromJS(box));
      const again = fromShared(structuredClone(token)) === fromShared(token);
      return Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
        const w = new Worker(`
          const { parentPort } = require('worker_threads');
          const { fromShared } = require('pymport');
          parentPort.once('message', (t) => {
            const a = fromShared(t), b = fromShared(t);
            parentPort.postMessage([a.id, a === b, a.get('value').toJS()]);
          });
        `, { eval: true });
        w.on('message', (m) => { resolve(m); w.terminate(); });
        w.on('error', reject);
        w.postMessage(token);
      }))).then((results) => [again, results]);
    }""")(pymport_py.ref(box)).result(WAIT)
    again, results = out.to_py()
    assert again is True
    assert results == [[id(box), True, "shared by three"]] * 3


def test_share_and_from_shared_reject_what_is_not_theirs():
    check = pymport_py.eval("""(code) => {
      const { share, fromShared, pyval } = require('pymport');
      try { eval(code); return 'no error'; } catch (e) { return [e.constructor.name, e.message]; }
    }""")
    not_a_pyobject = ["TypeError", "share() takes a PyObject (or a proxified one)"]
    not_a_token = ["TypeError", "fromShared() takes a token that share() made"]
    for code in ["share({})", "share(42)", "share()"]:
        assert check(code).to_py() == not_a_pyobject, code
    for code in ["fromShared({})", "fromShared(null)", "fromShared(new SharedArrayBuffer(0))",
                 "fromShared({ __pymport_shared__: new SharedArrayBuffer(0) })",
                 "fromShared({ __pymport_shared__: new ArrayBuffer(0) })"]:
        assert check(code).to_py() == not_a_token, code
    # a token works in this thread too
    assert check("if (fromShared(share(pyval('[1]'))).toJS()[0] !== 1) throw new Error('x')") == "no error"


def test_share_and_from_shared_are_named_exports_of_the_es_module():
    kinds = pymport_py.eval(
        "import('pymport').then((m) => [typeof m.share, typeof m.fromShared, "
        "m.fromShared(m.share(m.pyval('[4, 2]'))).toJS()])").result(WAIT)
    assert kinds.to_py() == ["function", "function", [4, 2]]


# ---- lifetime: no leak when either side drops the object or its token ----

LIFETIME = """
import gc, sys, time, weakref
import pymport_py as node
node.start(["--expose-gc"])

class Box:
    pass

def settle(predicate):
    # JS collections (the main environment's; workers collect when they end),
    # the Node-API finalizers and Python's pending calls run in turn
    for _ in range(200):
        node.eval("gc()")
        node.eval("new Promise((r) => setImmediate(r))").result(30)
        gc.collect()
        if predicate():
            return True
        time.sleep(0.01)
    return False
"""


def test_tokens_never_received_release_their_object(run_python):
    # Tokens dropped unsent, sent to a worker that ends without reading them,
    # and sent to a MessagePort that is closed unread.
    proc = run_python(LIFETIME + """
box, items = Box(), []
alive = weakref.ref(box)
base = sys.getrefcount(items)
node.eval('''(box, items) => new Promise((resolve, reject) => {
  const { Worker, MessageChannel } = require('worker_threads');
  const { share, PyObject } = require('pymport');
  const o = PyObject.fromJS(box), l = PyObject.fromJS(items);
  for (let i = 0; i < 1000; i++) share(o);
  const { port1, port2 } = new MessageChannel();
  for (let i = 0; i < 100; i++) port1.postMessage([share(o), share(l)]);
  port2.close();  // the receiving end, unread
  const w = new Worker(`require('worker_threads').parentPort.postMessage('started')`, { eval: true });
  w.on('message', () => {
    for (let i = 0; i < 100; i++) w.postMessage({ o: share(o), l: share(l) });
    w.terminate().then(() => resolve());
  });
  w.on('error', reject);
})''')(node.ref(box), node.ref(items)).result(60)
del box
print(settle(lambda: alive() is None and sys.getrefcount(items) == base))
""")
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["True"], proc.report


def test_an_object_lives_while_a_worker_holds_it_and_not_after(run_python):
    # The main thread drops the object and its token; a worker that keeps its
    # PyObject keeps the object alive, until the worker ends. (No JS closure
    # here holds the token: one would keep it alive as long as the worker.)
    proc = run_python(LIFETIME + """
box = Box()
alive = weakref.ref(box)
token = node.eval("(box) => require('pymport').share(require('pymport').PyObject.fromJS(box))")(
    node.ref(box))
started = node.eval('''(token) => {
  const { Worker } = require('worker_threads');
  const w = new Worker(`
    const { parentPort, workerData } = require('worker_threads');
    const { fromShared } = require('pymport');
    globalThis.kept = fromShared(workerData);
    gc();
    parentPort.postMessage('kept');
    setInterval(() => {}, 1000);  // runs until terminated
  `, { eval: true, workerData: token });
  globalThis.worker = w;
  return new Promise((resolve, reject) => { w.once('message', resolve); w.on('error', reject); });
}''')(token)
started.result(60)
del box, token, started
print(not settle(lambda: alive() is None))   # still alive: the worker holds it
node.eval("worker.terminate()").result(60)
print(settle(lambda: alive() is None))
""", timeout=120)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["True", "True"], proc.report


def test_stress_many_threads_many_objects_flat_memory_no_refcount_drift(run_python):
    # Six worker_threads in a ring of MessageChannels. Each round, the main
    # thread shares 4000 new objects (and one tracked object, again and
    # again) with the workers; each worker bumps its objects and passes them
    # to the next worker, which bumps them again and sends them back to the
    # main thread: 12,000 transfers a round, in every direction. After every
    # round the objects must all be freed and the tracked object's reference
    # count be back where it was; over the last rounds RSS must stay flat (a
    # leak of a few hundred bytes per transfer would exceed the bound).
    proc = run_python("""
import gc, sys, weakref
import pymport_py as node
node.start(["--expose-gc"])
WORKERS, ROUNDS, OBJECTS = 6, 12, 4000

class Box:
    def __init__(self, i):
        self.i = i
        self.hits = 0

def bump(box):
    box.hits += 1

tracked = Box(-1)
alive = weakref.WeakSet()
setup = node.eval('''(n, tracked) => {
  const { Worker, MessageChannel } = require('worker_threads');
  const { share, fromShared, PyObject } = require('pymport');
  const channels = Array.from({ length: n }, () => new MessageChannel());
  let pending = null;
  const workers = channels.map((channel, k) => {
    const next = channel.port1, prev = channels[(k + n - 1) % n].port2;
    const w = new Worker(`
      const { parentPort, workerData: { next, prev } } = require('worker_threads');
      const { pymport, share, fromShared } = require('pymport');
      const bump = pymport('__main__').get('bump');
      const bumped = (tokens) => tokens.map((token) => {
        const box = fromShared(token);
        bump.call(box);
        return share(box);
      });
      parentPort.on('message', (m) => {
        if (m.gc) {
          gc();
          setImmediate(() => { gc(); setImmediate(() => parentPort.postMessage({ collected: true })); });
        } else if (m.close) {
          next.close(); prev.close(); parentPort.close();
        } else {
          const t = fromShared(m.tracked);
          if (t.get('i').toJS() !== -1) throw new Error('not the tracked object');
          next.postMessage({ boxes: bumped(m.boxes), tracked: share(t) });
        }
      });
      prev.on('message', (m) => {
        fromShared(m.tracked);
        parentPort.postMessage({ boxes: bumped(m.boxes) });
      });
    `, { eval: true, workerData: { next, prev }, transferList: [next, prev] });
    w.on('message', (m) => pending(m));
    w.on('error', (e) => pending({ error: String(e) }));
    return w;
  });
  const t = PyObject.fromJS(tracked);
  const round = (boxes) => new Promise((resolve, reject) => {
    let back = 0, same = 0;
    pending = (m) => {
      if (m.error) return reject(new Error(m.error));
      for (const token of m.boxes) { if (boxes.includes(fromShared(token))) same++; back++; }
      if (back === boxes.length) {
        // V8 may keep the variables of a finished closure alive until it
        // runs again: drop the round's objects here
        pending = null;
        boxes = null;
        batches.length = 0;
        resolve([back, same]);
      }
    };
    const batches = workers.map(() => []);
    boxes.forEach((box, i) => batches[i % n].push(share(box)));
    batches.forEach((batch, k) => workers[k].postMessage({ boxes: batch, tracked: share(t) }));
  });
  const collect = () => new Promise((resolve) => {
    let left = n;
    pending = (m) => { if (m.collected && --left === 0) { pending = null; gc(); setImmediate(resolve); } };
    for (const w of workers) w.postMessage({ gc: true });
  });
  const close = () => {
    for (const w of workers) w.postMessage({ close: true });
    return Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  };
  return { round, collect, close };
}''')
api = setup(WORKERS, node.ref(tracked))
base = sys.getrefcount(tracked)

def rss_mib():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / (1 << 20)

rss = []
for r in range(ROUNDS):
    boxes = [Box(i) for i in range(OBJECTS)]
    for box in boxes:
        alive.add(box)
    del box
    back, same = api.round([node.ref(b) for b in boxes]).result(120).to_py()
    assert (back, same) == (OBJECTS, OBJECTS), (r, back, same)
    assert all(b.hits == 2 for b in boxes), r
    del boxes
    for _ in range(100):
        api.collect().result(60)
        gc.collect()
        if len(alive) == 0 and sys.getrefcount(tracked) == base:
            break
    assert len(alive) == 0, (r, len(alive))
    assert sys.getrefcount(tracked) == base, (r, sys.getrefcount(tracked), base)
    rss.append(rss_mib())
api.close().result(60)
growth = rss[-1] - rss[3]
# AddressSanitizer (scripts/test-sanitized) keeps freed memory in quarantine:
# there RSS says nothing, and the counts above are the check.
import os
assert growth < 16 or "libasan" in os.environ.get("LD_PRELOAD", ""), rss
print("ok", round(growth, 1))
""", timeout=400)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split()[0] == "ok", proc.report
