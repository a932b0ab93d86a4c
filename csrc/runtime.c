/* runtime.c - environments, their loop threads and the Node lock.
 *
 * Threads:
 * - the loop thread of an environment creates it, runs its libuv loop with the
 *   Node lock taken only while it runs callbacks, and tears it down;
 * - any Python thread takes the Node lock (nl_enter_with_gil) to run JS directly.
 * Lock order: Node lock, then GIL. The loop thread never holds the GIL except
 * inside callbacks into Python (PyGILState_Ensure). */
#include "runtime.h"

#include "async.h"
#include "convert.h"
#include "errors.h"
#include "pyapi.h"
#include "pyproxy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The bootstrap: the embedder main script loads js/bootstrap.js as a normal
 * CommonJS module (so `require` and `import()` behave as in user code). */
static const char rt_main_script[] =
    "const binding = process._linkedBinding('pymport_py');\n"
    "const file = binding.bootstrapPath();\n"
    "return require('module').createRequire(file)(file)(binding);\n";

/* Process-wide: set in a child after fork(); Node's threads do not exist there. */
static atomic_int rt_forked;
static pthread_once_t rt_atfork_once = PTHREAD_ONCE_INIT;

/* The child's exit ends with _exit: library destructors would join threads of
 * the parent that the child does not have (libuv's thread pool, once Node used
 * it, segfaults in uv_library_shutdown). Python has finalized by then. */
static void rt_exit_forked_child(int status, void *arg) {
    (void)arg;
    fflush(NULL);
    _exit(status);
}

static void rt_on_fork_child(void) {
    if (!atomic_exchange(&rt_forked, 1)) on_exit(rt_exit_forked_child, NULL);
}
static void rt_install_atfork(void) { pthread_atfork(NULL, NULL, rt_on_fork_child); }

/* The environment whose bootstrap runs on this thread (read by the binding's
 * register function). Loop thread only. */
static _Thread_local rt_env *rt_loading;
/* What a thread holds and waits for, for deadlock detection across
 * environments. Allocated once per thread that uses Node and never freed, so
 * another thread may read it at any time. */
typedef struct {
    _Atomic(rt_env *) waiting_for; /* the environment whose Node lock it waits for (nl_waits) */
    atomic_int held;               /* how many Node locks it holds */
    atomic_int in_python;          /* inside a call from JS into Python (nesting count) */
    int node_worker;               /* own thread: a Node worker_thread (rt_register_worker) */
    int64_t deadline_ns;           /* own thread: pymport_py.deadline(), 0: none */
    int report;                    /* own thread: rt_stop_reason to raise next */
    PyObject *report_exc;          /* own thread, GIL: the exception for RT_STOP_SIGNAL */
} nl_thread;

static _Thread_local nl_thread *nl_me;
static nl_thread nl_fallback_thread; /* if calloc fails: detection is then off */

static nl_thread *nl_thread_self(void) {
    if (!nl_me) {
        nl_me = calloc(1, sizeof *nl_me);
        if (!nl_me) nl_me = &nl_fallback_thread;
    }
    return nl_me;
}

uintptr_t nl_self(void) { return (uintptr_t)nl_thread_self(); }

static int rt_is_loop_thread(rt_env *env);
static int64_t rt_now_ns(void);

/* ---- the watcher: Ctrl-C and deadlines ----
 *
 * Process-wide, one thread. Python's C signal handler writes a byte to the
 * wakeup fd (signal.set_wakeup_fd, installed by pymport_py when it is free);
 * the watcher then asks the environments in which the main thread runs JS to
 * interrupt it, and the interrupt (on that thread) runs Python's signal
 * handlers; if they raise, the JS is terminated and the call raises that
 * exception. Deadlines work the same way, from the watcher's timeout. */

static struct {
    pthread_once_t once;
    pthread_mutex_t mutex;   /* protects envs */
    rt_env **envs;           /* running environments */
    size_t n, cap;
    int kick[2];             /* pipe: recompute deadlines */
    int sig[2];              /* pipe: Python's signal wakeup fd */
    int ok;
} rt_watch = {.once = PTHREAD_ONCE_INIT, .mutex = PTHREAD_MUTEX_INITIALIZER};

/* Python's main thread (process-wide, set once at import): Ctrl-C reaches it. */
static _Atomic unsigned long rt_main_ident;

void rt_set_main_thread(unsigned long ident) { atomic_store(&rt_main_ident, ident); }

static int rt_is_main_thread(void) {
    return PyThread_get_thread_ident() == atomic_load_explicit(&rt_main_ident, memory_order_relaxed);
}

static int64_t rt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void rt_drain_fd(int fd) {
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {}
}

/* The interrupt on the thread running JS (Node lock held): Python's main
 * thread runs the signal handlers; an exception terminates its JS. */
static void rt_on_signal_interrupt(void *data) {
    rt_env *env = data;
    if (!atomic_load(&env->main_active) || !rt_is_main_thread()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (PyErr_CheckSignals() < 0) {
        Py_XSETREF(env->interrupt_exc, er_take());
        atomic_store(&env->stop_thread, nl_self());
        atomic_store(&env->stop_reason, RT_STOP_SIGNAL);
        em_setup_terminate(env->setup);
    }
    PyGILState_Release(gil);
}

static void rt_on_deadline_interrupt(void *data) {
    rt_env *env = data;
    int64_t deadline = atomic_load(&env->deadline_ns);
    if (!deadline || atomic_load(&env->deadline_owner) != nl_self() || rt_now_ns() < deadline) return;
    atomic_store(&env->stop_thread, nl_self());
    atomic_store(&env->stop_reason, RT_STOP_DEADLINE);
    em_setup_terminate(env->setup);
}

/* The heap neared its limit, on the thread running JS (Node lock held). JS
 * called by pymport_py (rt_invoke) is terminated and the call raises
 * MemoryError. JS that Node's event loop called (a timer, I/O) cannot be
 * stopped alone without unbalancing Node's state: the environment stops. */
static void rt_on_heap_limit(void *data) {
    rt_env *env = data;
    if (rt_is_loop_thread(env) && !atomic_load(&env->loop_call)) {
        atomic_store(&env->heap_stopped, 1);
        int running = RT_RUNNING;
        atomic_compare_exchange_strong(&env->state, &running, RT_STOPPING);
        em_setup_stop(env->setup);
        return;
    }
    atomic_store(&env->stop_thread, nl_self());
    atomic_store(&env->stop_reason, RT_STOP_HEAP);
}

static void *rt_watch_main(void *unused) {
    (void)unused;
    for (;;) {
        int64_t now = rt_now_ns(), next = 0;
        pthread_mutex_lock(&rt_watch.mutex);
        for (size_t i = 0; i < rt_watch.n; i++) {
            rt_env *env = rt_watch.envs[i];
            int64_t deadline = atomic_load(&env->deadline_ns);
            if (!deadline || atomic_load(&env->deadline_fired)) continue;
            if (deadline <= now) {
                atomic_store(&env->deadline_fired, 1);
                em_setup_request_interrupt(env->setup, rt_on_deadline_interrupt, env);
            } else if (!next || deadline < next) {
                next = deadline;
            }
        }
        pthread_mutex_unlock(&rt_watch.mutex);
        int timeout = next ? (int)((next - now) / 1000000) + 1 : -1;
        struct pollfd fds[2] = {{.fd = rt_watch.kick[0], .events = POLLIN},
                                {.fd = rt_watch.sig[0], .events = POLLIN}};
        if (poll(fds, 2, timeout) <= 0) continue;
        if (fds[0].revents) rt_drain_fd(rt_watch.kick[0]);
        if (fds[1].revents) {
            rt_drain_fd(rt_watch.sig[0]);
            pthread_mutex_lock(&rt_watch.mutex);
            for (size_t i = 0; i < rt_watch.n; i++)
                if (atomic_load(&rt_watch.envs[i]->main_active))
                    em_setup_request_interrupt(rt_watch.envs[i]->setup, rt_on_signal_interrupt,
                                               rt_watch.envs[i]);
            pthread_mutex_unlock(&rt_watch.mutex);
        }
    }
    return NULL;
}

static int rt_pipe(int fds[2]) {
    if (pipe(fds) < 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

static void rt_watch_init(void) {
    if (rt_pipe(rt_watch.kick) < 0) return;
    if (rt_pipe(rt_watch.sig) < 0) return;
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rt_watch.ok = pthread_create(&thread, &attr, rt_watch_main, NULL) == 0;
    pthread_attr_destroy(&attr);
}

static void rt_watch_kick(void) {
    if (rt_watch.ok && write(rt_watch.kick[1], "k", 1) < 0) {}
}

/* Adds (add = 1) or removes an environment. Any thread. */
static void rt_watch_env(rt_env *env, int add) {
    pthread_once(&rt_watch.once, rt_watch_init);
    pthread_mutex_lock(&rt_watch.mutex);
    if (add) {
        if (rt_watch.n == rt_watch.cap) {
            size_t cap = rt_watch.cap ? rt_watch.cap * 2 : 8;
            rt_env **grown = realloc(rt_watch.envs, cap * sizeof *grown);
            if (grown) {
                rt_watch.envs = grown;
                rt_watch.cap = cap;
            }
        }
        if (rt_watch.n < rt_watch.cap) rt_watch.envs[rt_watch.n++] = env;
    } else {
        for (size_t i = 0; i < rt_watch.n; i++) {
            if (rt_watch.envs[i] == env) {
                rt_watch.envs[i] = rt_watch.envs[--rt_watch.n];
                break;
            }
        }
    }
    pthread_mutex_unlock(&rt_watch.mutex);
}

int rt_signal_fd(void) {
    pthread_once(&rt_watch.once, rt_watch_init);
    return rt_watch.ok ? rt_watch.sig[1] : -1;
}

void rt_set_deadline(int64_t deadline_ns) { nl_thread_self()->deadline_ns = deadline_ns; }

int64_t rt_get_deadline(void) { return nl_thread_self()->deadline_ns; }

int rt_raise_interrupt(rt_env *env) {
    nl_thread *me = nl_thread_self();
    int reason = me->report;
    PyObject *exc = NULL;
    if (reason) {
        me->report = RT_STOP_NONE;
        exc = me->report_exc;
        me->report_exc = NULL;
    } else if (atomic_load(&env->stop_thread) == (uintptr_t)me) {
        /* Inside nested calls: unwind with the same kind of exception. */
        reason = atomic_load(&env->stop_reason);
        if (reason == RT_STOP_SIGNAL) exc = Py_XNewRef(env->interrupt_exc);
    }
    switch (reason) {
    case RT_STOP_SIGNAL:
        if (exc) PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
        else PyErr_SetNone(PyExc_KeyboardInterrupt);
        return -1;
    case RT_STOP_DEADLINE:
        Py_XDECREF(exc);
        PyErr_SetString(PyExc_TimeoutError, "JavaScript ran past its pymport_py.deadline()");
        return -1;
    case RT_STOP_HEAP:
        Py_XDECREF(exc);
        PyErr_SetString(PyExc_MemoryError,
                        "JavaScript reached the heap limit (the allocation was stopped; "
                        "raise it with start(max_heap_mb=...))");
        return -1;
    default:
        Py_XDECREF(exc);
        return 0;
    }
}

/* If this thread's JS was terminated for an interrupt: ends the termination
 * and returns the reason (else RT_STOP_NONE). Node lock held, no JS of this
 * thread on the stack; no GIL needed. */
static int rt_end_termination(rt_env *env) {
    if (atomic_load(&env->stop_thread) != nl_self()) return RT_STOP_NONE;
    int reason = atomic_exchange(&env->stop_reason, RT_STOP_NONE);
    atomic_store(&env->stop_thread, 0);
    if (atomic_load(&env->state) == RT_RUNNING) em_setup_cancel_terminate(env->setup);
    return reason;
}

/* Marks the calling thread as the owner of env's Node lock (depth 1). */
static void nl_mark_mine(rt_env *env) {
    nl_thread *me = nl_thread_self();
    atomic_fetch_add(&me->held, 1);
    atomic_store_explicit(&env->owner, (uintptr_t)me, memory_order_relaxed);
    env->depth = 1;
}

static void nl_unmark_mine(rt_env *env) {
    env->depth = 0;
    atomic_store_explicit(&env->owner, 0, memory_order_relaxed);
    atomic_fetch_sub(&nl_thread_self()->held, 1);
}

/* True if waiting for env's lock closes a cycle (its owner waits for a lock
 * whose owner waits ... for a lock this thread holds) and this thread is the
 * one of the cycle to give way: the one with the highest token, so that
 * exactly one thread of a cycle raises and the others go on. */
static pthread_mutex_t nl_waits = PTHREAD_MUTEX_INITIALIZER;

/* Sets or clears what the calling thread waits for, under `nl_waits`. */
static void nl_set_waiting_for(nl_thread *me, rt_env *env) {
    pthread_mutex_lock(&nl_waits);
    atomic_store(&me->waiting_for, env);
    pthread_mutex_unlock(&nl_waits);
}

/* A thread's waiting_for stays alive while it is set (the waiting thread's
 * caller holds the environment), and it is cleared under `nl_waits`: the
 * walk holds that mutex so that no environment on it is freed meanwhile. */
static int nl_closes_cycle(rt_env *env) {
    nl_thread *me = nl_thread_self();
    uintptr_t highest = (uintptr_t)me;
    int cycle = 0;
    pthread_mutex_lock(&nl_waits);
    for (int hops = 0; env && hops < 64; hops++) {
        nl_thread *owner = (nl_thread *)atomic_load(&env->owner);
        if (!owner) break;
        if (owner == me) {
            cycle = highest == (uintptr_t)me;
            break;
        }
        if ((uintptr_t)owner > highest) highest = (uintptr_t)owner;
        env = atomic_load(&owner->waiting_for);
    }
    pthread_mutex_unlock(&nl_waits);
    return cycle;
}

/* How long a thread waits for a Node lock whose owner stays inside a Python
 * callback before it gives up (ns; 0: forever). Process-wide setting. */
static _Atomic int64_t nl_python_wait_limit = 10LL * 1000000000;

void nl_set_python_wait_limit(int64_t ns) { atomic_store(&nl_python_wait_limit, ns); }

void nl_begin_python_callback(void) { atomic_fetch_add(&nl_thread_self()->in_python, 1); }
void nl_end_python_callback(void) { atomic_fetch_sub(&nl_thread_self()->in_python, 1); }

/* Takes env's mutex, blocking with the GIL released (GIL held on entry and
 * return). The wait goes in slices so that silent deadlocks become errors:
 * - a thread that holds another environment's Node lock checks for a cycle of
 *   waits between environments (JS in A calls Python that calls B while JS in
 *   B calls Python that calls A);
 * - a thread whose lock's owner stays inside a Python callback (called from
 *   JS) longer than the limit gives up: that owner may be waiting for it
 *   (joining this thread, say), which no lock can show.
 * Returns 0, or -1 with RuntimeError (EnvironmentClosed when the environment
 * stopped meanwhile). */
static int nl_wait_releasing_gil(rt_env *env) {
    if (pthread_mutex_trylock(&env->mutex) == 0) return 0;
    nl_thread *me = nl_thread_self();
    int deadlock = 0, stuck = 0, closed = 0;
    int64_t limit = atomic_load(&nl_python_wait_limit), in_python_since = 0;
    Py_BEGIN_ALLOW_THREADS
    nl_set_waiting_for(me, env);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (pthread_mutex_timedlock(&env->mutex, &until) == 0) break;
        /* A stopping environment's lock is held by its teardown, which may wait
         * for this thread (Node joins its worker_threads): give up. */
        if (atomic_load(&env->state) != RT_RUNNING) {
            closed = 1;
            break;
        }
        if (atomic_load(&me->held) > 0 && nl_closes_cycle(env)) {
            deadlock = 1;
            break;
        }
        nl_thread *owner = (nl_thread *)atomic_load(&env->owner);
        if (limit > 0 && owner && atomic_load(&owner->in_python) > 0) {
            int64_t now = rt_now_ns();
            if (!in_python_since) in_python_since = now;
            if (now - in_python_since >= limit) {
                stuck = 1;
                break;
            }
        } else {
            in_python_since = 0;
        }
    }
    nl_set_waiting_for(me, NULL);
    Py_END_ALLOW_THREADS
    if (closed) return rt_raise_closed(env);
    if (deadlock) {
        PyErr_SetString(PyExc_RuntimeError,
                        "deadlock: this thread holds a Node environment's lock and waits for "
                        "another's whose owner waits for it (JavaScript in two environments "
                        "calling Python that calls the other one); use call_async for one of "
                        "the calls");
        return -1;
    }
    if (stuck) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "gave up waiting for a Node environment after %.1f s: the thread that holds "
                 "it is inside a Python function called from JavaScript; if that function "
                 "waits for this thread (joins it, waits for its result), it can never "
                 "return. Use call_async from this thread, or let the callback return first "
                 "(pymport_py.set_lock_wait_limit changes the limit)",
                 (double)limit / 1e9);
        PyErr_SetString(PyExc_RuntimeError, msg);
        return -1;
    }
    return 0;
}

static char **rt_strv_from_seq(PyObject *seq) {
    PyObject *fast = PySequence_Fast(seq, "argv must be a sequence of str");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v) goto nomem;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *s = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(fast, i));
        if (!s) goto error;
        if (!(v[i] = strdup(s))) goto nomem;
    }
    Py_DECREF(fast);
    return v;
nomem:
    PyErr_NoMemory();
error:
    for (Py_ssize_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
    Py_DECREF(fast);
    return NULL;
}

static void rt_strv_free(char **v) {
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

static int rt_strv_len(char **v) {
    int n = 0;
    while (v && v[n]) n++;
    return n;
}

/* Process-wide, set by the first environment: what the linked binding needs in
 * Node worker_threads, whose environments Node creates without us. The module
 * is borrowed: environments (and their workers) stop at exit before it dies. */
static PyObject *rt_module;
static char *rt_bootstrap;

/* Returns a new environment struct (refcnt 1), or NULL with an exception. GIL held. */
static rt_env *rt_env_alloc(PyObject *module, const char *bootstrap) {
    rt_env *env = calloc(1, sizeof *env);
    if (!env) return (rt_env *)PyErr_NoMemory();
    env->refcnt = 1;
    env->module = Py_NewRef(module);
    pthread_mutex_init(&env->mutex, NULL);
    pthread_mutex_init(&env->smutex, NULL);
    pthread_mutex_init(&env->qmutex, NULL);
    pthread_mutex_init(&env->jmutex, NULL);
    pthread_cond_init(&env->scond, NULL);
    atomic_store(&env->state, RT_STARTING);
    env->sleep_until = -1;
    env->wake_closed = 1; /* until the loop thread opened it */
    if (!(env->bootstrap_path = strdup(bootstrap))) {
        rt_env_decref(env);
        return (rt_env *)PyErr_NoMemory();
    }
    return env;
}

rt_env *rt_env_new(PyObject *module, const char *bootstrap, PyObject *argv,
                   PyObject *exec_argv, PyObject *base_dir) {
    pthread_once(&rt_atfork_once, rt_install_atfork);
    if (!rt_module) {
        rt_module = module;
        rt_bootstrap = strdup(bootstrap);
    }
    rt_env *env = rt_env_alloc(module, bootstrap);
    if (!env) return NULL;
    if (base_dir != Py_None) {
        const char *b = PyUnicode_AsUTF8(base_dir);
        if (!b) goto error;
        if (!(env->base_dir = strdup(b))) goto nomem;
    }
    /* process.argv is [program, ...argv] like `node script args`. */
    PyObject *full = Py_BuildValue("[s]", "pymport_py");
    if (!full) goto error;
    PyObject *rest = PySequence_List(argv);
    if (!rest || PyList_SetSlice(full, 1, 1, rest) < 0) {
        Py_XDECREF(rest);
        Py_DECREF(full);
        goto error;
    }
    Py_DECREF(rest);
    env->argv = rt_strv_from_seq(full);
    Py_DECREF(full);
    if (!env->argv) goto error;
    if (!(env->exec_argv = rt_strv_from_seq(exec_argv))) goto error;
    return env;
nomem:
    PyErr_NoMemory();
error:
    rt_env_decref(env);
    return NULL;
}

void rt_env_incref(rt_env *env) { env->refcnt++; }

void rt_env_decref(rt_env *env) {
    if (--env->refcnt > 0) return;
    /* The loop thread, which holds a reference until it is joined, was joined. */
    tb_free(&env->objects);
    tb_free(&env->pyobjects);
    free(env->released);
    free(env->bootstrap_path);
    free(env->base_dir);
    rt_strv_free(env->argv);
    rt_strv_free(env->exec_argv);
    pthread_mutex_destroy(&env->mutex);
    pthread_mutex_destroy(&env->smutex);
    pthread_mutex_destroy(&env->qmutex);
    pthread_mutex_destroy(&env->jmutex);
    pthread_cond_destroy(&env->scond);
    Py_CLEAR(env->interrupt_exc);
    Py_CLEAR(env->module);
    free(env);
}

/* ---- the Node lock, raw (no GIL involved) ---- */

/* Takes the lock at depth 1 and enters the V8 scopes into `scope`. Blocks.
 * Returns the state seen under the lock. Must not hold the GIL. */
static void nl_lock_without_gil(rt_env *env, em_scope *scope) {
    pthread_mutex_lock(&env->mutex);
    em_scope_enter(env->setup, scope);
    nl_mark_mine(env);
}

static void nl_unlock_without_gil(rt_env *env, em_scope *scope) {
    nl_unmark_mine(env);
    em_scope_exit(scope);
    pthread_mutex_unlock(&env->mutex);
}

/* Wakes the loop thread when the work done under the lock changed what it
 * waits for: an earlier timer, pending callbacks, or new I/O watchers (for
 * which uv_backend_timeout() is 0, compat.h). env->sleep_until is our own
 * record of when the loop thread means to wake. Node lock held, not on the
 * loop thread. */
static void nl_wake_loop_if_needed(rt_env *env) {
    uv_loop_t *loop = env->loop;
    int timeout = uv_backend_timeout(loop);
    int wake = timeout == 0 ||
               (timeout > 0 && (env->sleep_until < 0 ||
                                (int64_t)(uv_now(loop) + (uint64_t)timeout) < env->sleep_until));
    if (wake) uv_async_send(&env->wake);
}

static int rt_is_loop_thread(rt_env *env) {
    return pthread_equal(pthread_self(), env->loop_thread);
}

int rt_raise_closed(rt_env *env) {
    mod_state *st = rt_state_of(env);
    if (atomic_load(&rt_forked)) {
        PyErr_SetString(st->EnvironmentClosed,
                        "Node cannot be used in a process forked after it started; use the "
                        "'spawn' or 'forkserver' multiprocessing start method");
    } else if (atomic_load(&env->exit_requested)) {
        PyErr_Format(st->EnvironmentClosed,
                     "the Node environment was stopped by process.exit(%d)",
                     atomic_load(&env->exit_code));
    } else {
        PyErr_SetString(st->EnvironmentClosed, "the Node environment is shut down");
    }
    return -1;
}

/* With env->mutex just taken: enters the V8 scopes and becomes the owner,
 * unless the environment stopped meanwhile. Returns 0, or -1 with the mutex
 * released. */
static int nl_claim_after_mutex(rt_env *env, nl_frame *frame) {
    if (atomic_load(&env->state) != RT_RUNNING) {
        pthread_mutex_unlock(&env->mutex);
        return -1;
    }
    em_scope_enter(env->setup, &frame->scope);
    nl_mark_mine(env);
    return 0;
}

/* Opens the frame's handle scope. Returns 0, or -1 with this level of the
 * lock released. */
static int nl_open_frame(rt_env *env, nl_frame *frame) {
    if (napi_open_handle_scope(env->napi, &frame->hscope) == napi_ok) return 0;
    frame->hscope = NULL;
    nl_leave_with_gil(env, frame);
    return -1;
}

int nl_enter_with_gil(rt_env *env, nl_frame *frame) {
    if (atomic_load_explicit(&rt_forked, memory_order_relaxed)) return rt_raise_closed(env);
    if (nl_is_mine(env)) {
        env->depth++;
    } else if (env->foreign) {
        if (atomic_load(&env->state) != RT_RUNNING) return rt_raise_closed(env);
        PyErr_SetString(PyExc_RuntimeError,
                        "this JavaScript object belongs to a Node worker_thread: use it on that "
                        "thread (inside a call from its JavaScript)");
        return -1;
    } else {
        if (atomic_load(&env->state) != RT_RUNNING) return rt_raise_closed(env);
        /* Never block on the Node lock with the GIL held. */
        if (nl_wait_releasing_gil(env) < 0) return -1;
        if (nl_claim_after_mutex(env, frame) < 0) return rt_raise_closed(env);
    }
    if (nl_open_frame(env, frame) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot open a JavaScript handle scope");
        return -1;
    }
    return 0;
}

int nl_try_enter_with_gil(rt_env *env, nl_frame *frame) {
    if (atomic_load_explicit(&rt_forked, memory_order_relaxed) ||
        atomic_load(&env->state) != RT_RUNNING)
        return 0;
    if (nl_is_mine(env)) {
        env->depth++;
    } else if (env->foreign || pthread_mutex_trylock(&env->mutex) != 0 || nl_claim_after_mutex(env, frame) < 0) {
        return 0;
    }
    return nl_open_frame(env, frame) == 0;
}

static void rt_drop_kept_of(rt_env *env);

void nl_leave_with_gil(rt_env *env, nl_frame *frame) {
    if (frame->hscope) napi_close_handle_scope(env->napi, frame->hscope);
    if (--env->depth > 0) return;
    rt_drop_kept_of(env); /* its call is over: nobody will take it */
    /* A termination that hit JS run by a property access (a getter at the heap
     * limit) ends here; the access already raised. */
    rt_end_termination(env);
    if (atomic_load(&env->state) == RT_RUNNING && !rt_is_loop_thread(env)) nl_wake_loop_if_needed(env);
    nl_unmark_mine(env);
    em_scope_exit(&frame->scope);
    pthread_mutex_unlock(&env->mutex);
}

/* The exception of this thread's last failed rt_call, kept aside (a strong
 * reference, boxed: references hold objects only), with a reference on its
 * environment. Own thread, GIL held. */
static _Thread_local napi_ref rt_kept;
static _Thread_local rt_env *rt_kept_env;

static void rt_drop_kept(void) {
    if (!rt_kept_env) return;
    if (rt_kept) rt_release_ref(rt_kept_env, rt_kept);
    rt_env_decref(rt_kept_env);
    rt_kept = NULL;
    rt_kept_env = NULL;
}

/* Forgets this thread's kept exception if it is env's. GIL held. */
static void rt_drop_kept_of(rt_env *env) {
    if (rt_kept_env == env) rt_drop_kept();
}

static void rt_keep_exception(rt_env *env, napi_value thrown) {
    napi_value box;
    rt_drop_kept();
    if (napi_create_array_with_length(env->napi, 1, &box) != napi_ok ||
        napi_set_element(env->napi, box, 0, thrown) != napi_ok ||
        napi_create_reference(env->napi, box, 1, &rt_kept) != napi_ok) {
        rt_kept = NULL;
        return;
    }
    rt_kept_env = env;
    rt_env_incref(env);
}

int rt_take_exception(rt_env *env, napi_value *out) {
    if (!rt_kept || rt_kept_env != env) return 0;
    napi_value box;
    int ok = napi_get_reference_value(env->napi, rt_kept, &box) == napi_ok &&
             napi_get_element(env->napi, box, 0, out) == napi_ok;
    rt_drop_kept();
    return ok;
}

int rt_raise_cut_short(rt_env *env) {
    if (!atomic_load(&env->exit_requested)) return rt_raise_closed(env);
    PyObject *code = PyLong_FromLong(atomic_load(&env->exit_code));
    if (code) {
        PyErr_SetObject(rt_state_of(env)->ProcessExit, code);
        Py_DECREF(code);
    }
    return -1;
}

napi_value rt_helper_value(rt_env *env, rt_helper h) {
    napi_value v = NULL;
    if (napi_get_reference_value(env->napi, env->helpers[h], &v) != napi_ok) return NULL;
    return v;
}

static void rt_watch_kick(void);
static int rt_is_main_thread(void);
static void rt_keep_exception(rt_env *env, napi_value thrown);
static int rt_end_termination(rt_env *env);

/* Runs fn (as a call, or as `new fn(...)` when recv is NULL) inside a callback
 * scope, so that nextTicks and microtasks run when the outermost scope closes. */
static napi_status rt_invoke(rt_env *env, napi_value recv, napi_value fn, size_t argc,
                             const napi_value *argv, napi_value *result) {
    napi_value resource;
    napi_callback_scope cscope;
    napi_status status = napi_get_global(env->napi, &resource);
    if (status != napi_ok) return status;
    status = napi_open_callback_scope(env->napi, resource, env->async_ctx, &cscope);
    if (status != napi_ok) return status;
    /* The outermost call of a thread is what Ctrl-C and deadlines stop. */
    int outer = env->depth == 1;
    int loop_call = outer && rt_is_loop_thread(env);
    int main_call = outer && !loop_call && rt_is_main_thread();
    if (loop_call) atomic_store(&env->loop_call, 1);
    int64_t deadline = nl_thread_self()->deadline_ns;
    if (main_call) {
        atomic_store(&env->main_active, 1);
        /* A signal that came before main_active was set found no call to stop
         * (the watcher skips idle environments): handle it here, or JS that
         * never returns would never see it. Later ones find main_active set. */
        if (PyErr_CheckSignals() < 0) {
            nl_thread *me = nl_thread_self();
            me->report = RT_STOP_SIGNAL;
            Py_XSETREF(me->report_exc, er_take());
            atomic_store(&env->main_active, 0);
            napi_close_callback_scope(env->napi, cscope);
            return napi_generic_failure;
        }
    }
    if (deadline && outer) {
        atomic_store(&env->deadline_owner, nl_self());
        atomic_store(&env->deadline_fired, 0);
        atomic_store(&env->deadline_ns, deadline);
        rt_watch_kick();
    }
    /* JS runs without the GIL; callbacks into Python take it themselves. */
    PyThreadState *ts = PyEval_SaveThread();
    if (recv)
        status = napi_call_function(env->napi, recv, fn, argc, argv, result);
    else
        status = napi_new_instance(env->napi, fn, argc, argv, result);
    bool is_promise = false;
    if (status == napi_ok && napi_is_promise(env->napi, *result, &is_promise) == napi_ok && is_promise) {
        /* A promise handed to Python is Python's to settle (result(), await):
         * mark it handled before the scope closes, or Node would report its
         * rejection as unhandled before Python had a chance. */
        napi_value mark = rt_helper_value(env, RT_H_HANDLED), ignored;
        if (mark) napi_call_function(env->napi, *result, mark, 0, NULL, &ignored);
    }
    /* A termination aimed at this call ends before the scope closes (no JS of
     * this thread is on the stack now), so the close runs ticks and microtasks
     * as usual and Node's async context stack stays balanced. */
    int reason = outer ? rt_end_termination(env) : RT_STOP_NONE;
    /* The call's exception must not be pending while the scope's close runs
     * microtasks (their Node-API callbacks would see it as theirs): keep it
     * aside for rt_take_exception. */
    bool pending = false;
    napi_value thrown = NULL;
    if (status != napi_ok && napi_is_exception_pending(env->napi, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env->napi, &thrown) != napi_ok)
        thrown = NULL;
    napi_close_callback_scope(env->napi, cscope);
    PyEval_RestoreThread(ts);
    if (thrown) rt_keep_exception(env, thrown);
    if (loop_call) atomic_store(&env->loop_call, 0);
    if (main_call) atomic_store(&env->main_active, 0);
    if (deadline && outer) atomic_store(&env->deadline_ns, 0);
    /* A stop (shutdown, process.exit) may have terminated the JS while it ran,
     * and a terminated call can come back looking like it returned undefined:
     * report the stop rather than a value that may not be the call's. */
    if (status == napi_ok && atomic_load(&env->state) != RT_RUNNING) status = napi_pending_exception;
    if (reason) {
        /* Report it (rt_raise_interrupt), even if the call got to finish. */
        nl_thread *me = nl_thread_self();
        me->report = reason;
        Py_XSETREF(me->report_exc, env->interrupt_exc);
        env->interrupt_exc = NULL;
        if (status == napi_ok) status = napi_generic_failure;
    }
    return status;
}

napi_status rt_call(rt_env *env, napi_value recv, napi_value fn, size_t argc,
                    const napi_value *argv, napi_value *result) {
    return rt_invoke(env, recv, fn, argc, argv, result);
}

napi_status rt_construct(rt_env *env, napi_value ctor, size_t argc, const napi_value *argv,
                         napi_value *result) {
    return rt_invoke(env, NULL, ctor, argc, argv, result);
}

napi_status rt_call_helper(rt_env *env, rt_helper h, size_t argc, const napi_value *argv,
                           napi_value *result) {
    napi_value fn = rt_helper_value(env, h), undefined;
    if (!fn) return napi_generic_failure;
    napi_get_undefined(env->napi, &undefined);
    return rt_call(env, undefined, fn, argc, argv, result);
}

/* ---- releasing references from any thread ---- */

/* Deletes the queued references. Node lock held. */
static void rt_drain_released(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    napi_ref *refs = env->released;
    size_t n = env->nreleased;
    env->released = NULL;
    env->nreleased = env->released_cap = 0;
    pthread_mutex_unlock(&env->qmutex);
    for (size_t i = 0; i < n; i++) napi_delete_reference(env->napi, refs[i]);
    free(refs);
}

void rt_release_ref(rt_env *env, napi_ref ref) {
    /* A forked child has Node's memory but none of its threads: entering the
     * isolate there crashes. What the proxies held goes with the process. */
    if (!ref || atomic_load(&rt_forked) || atomic_load(&env->state) == RT_DEAD) return;
    if (nl_is_mine(env)) {
        napi_delete_reference(env->napi, ref);
        return;
    }
    /* A worker_thread's environment is only usable on its thread: the
     * reference waits in the queue below for it. */
    if (!env->foreign && pthread_mutex_trylock(&env->mutex) == 0) {
        int state = atomic_load(&env->state);
        if (state == RT_RUNNING || state == RT_STOPPING) {
            em_scope scope;
            em_scope_enter(env->setup, &scope);
            napi_delete_reference(env->napi, ref);
            em_scope_exit(&scope);
        }
        pthread_mutex_unlock(&env->mutex);
        return;
    }
    pthread_mutex_lock(&env->qmutex);
    if (!env->wake_closed) {
        if (env->nreleased == env->released_cap) {
            size_t cap = env->released_cap ? env->released_cap * 2 : 64;
            napi_ref *grown = realloc(env->released, cap * sizeof *grown);
            if (!grown) { /* out of memory: the reference leaks with the environment */
                pthread_mutex_unlock(&env->qmutex);
                return;
            }
            env->released = grown;
            env->released_cap = cap;
        }
        env->released[env->nreleased++] = ref;
        if (env->nreleased == 1) uv_async_send(&env->wake);
    }
    pthread_mutex_unlock(&env->qmutex);
}

int rt_post(rt_env *env, rt_task *task) {
    int rc = -1;
    task->next = NULL;
    pthread_mutex_lock(&env->qmutex);
    if (!env->wake_closed && atomic_load(&env->state) == RT_RUNNING) {
        if (env->tasks_tail)
            env->tasks_tail->next = task;
        else
            env->tasks_head = task;
        env->tasks_tail = task;
        uv_async_send(&env->wake);
        rc = 0;
    }
    pthread_mutex_unlock(&env->qmutex);
    return rc;
}

/* Takes the queued tasks (oldest first). */
static rt_task *rt_take_tasks(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    rt_task *t = env->tasks_head;
    env->tasks_head = env->tasks_tail = NULL;
    pthread_mutex_unlock(&env->qmutex);
    return t;
}

/* Runs the queued tasks. Loop thread, Node lock held. */
static void rt_run_tasks(rt_env *env) {
    rt_task *t = rt_take_tasks(env);
    if (!t) return;
    /* One GIL acquisition for the batch (each task's own Ensure nests). When
     * Python is finalizing, no task can run or be cancelled: they are left. */
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return;
    while (t) {
        rt_task *next = t->next;
        if (atomic_load(&env->state) == RT_RUNNING)
            t->run(env, t);
        else
            t->cancel(env, t);
        t = next;
    }
    PyGILState_Release(gil);
}

/* No more tasks or wakes: cancels what is queued. The environment's thread. */
static void rt_close_queue(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    env->wake_closed = 1;
    pthread_mutex_unlock(&env->qmutex);
    for (rt_task *t = rt_take_tasks(env), *next; t; t = next) {
        next = t->next;
        t->cancel(env, t);
    }
}

/* uv_async callback of `wake`. Loop thread (or a worker_thread), Node lock held. */
static void rt_on_wake(uv_async_t *handle) {
    rt_env *env = handle->data;
    if (atomic_load(&env->state) == RT_RUNNING) rt_drain_released(env);
    rt_run_tasks(env);
    if (env->foreign && atomic_load(&env->holds) == 0) uv_unref((uv_handle_t *)&env->wake);
}

void rt_hold(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    if (!env->wake_closed && atomic_fetch_add(&env->holds, 1) == 0 && env->foreign)
        uv_ref((uv_handle_t *)&env->wake);
    pthread_mutex_unlock(&env->qmutex);
}

void rt_unhold(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    /* The last one: a worker's thread unrefs `wake` (libuv handles are its own). */
    if (!env->wake_closed && atomic_fetch_sub(&env->holds, 1) == 1 && env->foreign)
        uv_async_send(&env->wake);
    pthread_mutex_unlock(&env->qmutex);
}

int rt_loop_busy(rt_env *env) {
    if (atomic_load(&env->holds) > 0) return 1;
    if (env->foreign) return uv_loop_alive(env->loop);
    /* `wake` always keeps our loops alive (see rt_loop_main): ask without it. */
    uv_unref((uv_handle_t *)&env->wake);
    int alive = uv_loop_alive(env->loop);
    uv_ref((uv_handle_t *)&env->wake);
    return alive;
}

/* ---- the loop thread ---- */

static void rt_signal_started(rt_env *env, int state, const char *error) {
    pthread_mutex_lock(&env->smutex);
    if (error) snprintf(env->start_error, sizeof env->start_error, "%s", error);
    atomic_store(&env->state, state);
    pthread_cond_broadcast(&env->scond);
    pthread_mutex_unlock(&env->smutex);
}

/* process.exit(): runs on the thread executing that JS, Node lock held; the
 * shim then stops the environment. Python's process is never exited. */
static void rt_on_process_exit(void *data, int code) {
    rt_env *env = data;
    atomic_store(&env->exit_code, code);
    atomic_store(&env->exit_requested, 1);
    int running = RT_RUNNING;
    atomic_compare_exchange_strong(&env->state, &running, RT_STOPPING);
    pthread_mutex_lock(&env->qmutex);
    if (!env->wake_closed) uv_async_send(&env->wake);
    pthread_mutex_unlock(&env->qmutex);
}

/* Tears the environment down. Loop thread, Node lock held at depth 1 with the
 * V8 scopes in `scope`; returns with the lock released and the state DEAD. */
static void rt_teardown(rt_env *env, em_scope *scope, int loaded) {
    em_setup *setup = env->setup;
    rt_watch_env(env, 0);
    pthread_mutex_lock(&env->smutex);
    atomic_store(&env->state, RT_STOPPING);
    em_setup_stop(setup);
    pthread_mutex_unlock(&env->smutex);
    if (loaded) {
        rt_drain_released(env);
        for (int h = 0; h < RT_H_COUNT; h++)
            if (env->helpers[h]) napi_delete_reference(env->napi, env->helpers[h]);
        if (env->async_ctx) napi_async_destroy(env->napi, env->async_ctx);
    }
    rt_close_queue(env);
    if (loaded) as_fail_pending(env);
    uv_close((uv_handle_t *)&env->wake, NULL);
    uv_run(env->loop, UV_RUN_NOWAIT); /* completes the close */
    nl_unmark_mine(env);
    em_scope_exit(scope);
    /* No one may call node::Stop on the setup from here on. */
    pthread_mutex_lock(&env->smutex);
    env->setup = NULL;
    pthread_mutex_unlock(&env->smutex);
    /* Frees environment, isolate and loop; napi finalizers of proxies of Python
     * objects run here and take the GIL (the joining thread released it). */
    em_setup_destroy(setup);
    atomic_store(&env->state, RT_DEAD);
    pthread_mutex_unlock(&env->mutex);
}

/* The heap limit was reached by JS that the event loop called: the
 * environment stopped; say so once. Loop thread. */
static void rt_report_heap_stop(rt_env *env) {
    if (!atomic_exchange(&env->heap_stopped, 0)) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyErr_SetString(PyExc_MemoryError, "JavaScript called by the event loop (a timer or I/O "
                                       "callback) reached the heap limit: the environment stopped");
    cp_write_unraisable("in JavaScript (heap limit)");
    PyGILState_Release(gil);
}

static void *rt_loop_main(void *arg) {
    rt_env *env = arg;
    char error[1024] = "";
    if (em_process_init(error, sizeof error) < 0) {
        rt_signal_started(env, RT_DEAD, error);
        return NULL;
    }
    env->setup = em_setup_create((const char *const *)env->argv, rt_strv_len(env->argv),
                                 (const char *const *)env->exec_argv,
                                 rt_strv_len(env->exec_argv), error, sizeof error);
    if (!env->setup) {
        em_undo_stack_size((const char *const *)env->exec_argv, rt_strv_len(env->exec_argv));
        rt_signal_started(env, RT_DEAD, error);
        return NULL;
    }
    env->loop = em_setup_loop(env->setup);
    em_scope scope;
    nl_lock_without_gil(env, &scope);
    em_setup_add_binding(env->setup, "pymport_py", rt_register_binding);
    em_setup_on_exit(env->setup, rt_on_process_exit, env);
    em_setup_on_heap_limit(env->setup, rt_on_heap_limit, env);
    /* `wake` stays referenced: the loop is then always alive, so
     * uv_backend_timeout gives the time to the next timer (or -1) rather than 0
     * for "nothing keeps the loop alive", which would make the thread spin. */
    uv_async_init(env->loop, &env->wake, rt_on_wake);
    env->wake.data = env;
    pthread_mutex_lock(&env->qmutex);
    env->wake_closed = 0;
    pthread_mutex_unlock(&env->qmutex);

    rt_loading = env;
    int rc = em_setup_load(env->setup, rt_main_script, error, sizeof error);
    rt_loading = NULL;
    if (rc == 0 && (!env->napi || !env->helpers[RT_H_COUNT - 1])) {
        snprintf(error, sizeof error, "the Node bootstrap did not initialise pymport_py");
        rc = -1;
    }
    if (rc < 0) {
        rt_teardown(env, &scope, env->napi != NULL);
        em_undo_stack_size((const char *const *)env->exec_argv, rt_strv_len(env->exec_argv));
        rt_signal_started(env, RT_DEAD, error);
        return NULL;
    }
    rt_watch_env(env, 1);
    rt_signal_started(env, RT_RUNNING, NULL);

    while (atomic_load(&env->state) == RT_RUNNING) {
        uv_run(env->loop, UV_RUN_NOWAIT);
        if (atomic_load(&env->heap_stopped)) rt_report_heap_stop(env);
        em_setup_drain_tasks(env->setup);
        rt_drain_released(env);
        if (atomic_load(&env->state) != RT_RUNNING) break;
        int timeout = uv_backend_timeout(env->loop);
        env->sleep_until = timeout < 0 ? -1 : (int64_t)(uv_now(env->loop) + (uint64_t)timeout);
        struct pollfd pfd = {.fd = uv_backend_fd(env->loop), .events = POLLIN};
        nl_unlock_without_gil(env, &scope);
        poll(&pfd, 1, timeout);
        nl_lock_without_gil(env, &scope);
    }
    if (rt_kept_env) { /* this thread ends: what it kept goes */
        PyGILState_STATE gil;
        if (cp_gil_ensure(&gil)) {
            rt_drop_kept();
            PyGILState_Release(gil);
        }
    }
    rt_teardown(env, &scope, 1);
    return NULL;
}

int rt_env_start(rt_env *env) {
    if (atomic_load(&rt_forked)) return rt_raise_closed(env);
    if (env->loop_thread_started) {
        PyErr_SetString(PyExc_RuntimeError, "the environment was already started");
        return -1;
    }
    rt_join_stopped(0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* V8 wants a deep stack; Python's own threads use the same default. */
    pthread_attr_setstacksize(&attr, 8 * 1024 * 1024);
    rt_env_incref(env); /* the loop thread's, dropped by whoever joins it */
    int err = pthread_create(&env->loop_thread, &attr, rt_loop_main, env);
    pthread_attr_destroy(&attr);
    if (err) {
        rt_env_decref(env);
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    env->loop_thread_started = 1;
    int state;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&env->smutex);
    while ((state = atomic_load(&env->state)) == RT_STARTING)
        pthread_cond_wait(&env->scond, &env->smutex);
    pthread_mutex_unlock(&env->smutex);
    Py_END_ALLOW_THREADS
    if (state == RT_DEAD) {
        rt_env_shutdown(env); /* joins it */
        int bad_options = strncmp(env->start_error, EM_OPTIONS_ERROR, strlen(EM_OPTIONS_ERROR)) == 0;
        PyErr_Format(bad_options ? PyExc_ValueError : PyExc_RuntimeError, "cannot start Node: %s",
                     env->start_error);
        return -1;
    }
    return 0;
}

/* Asks the loop thread to stop: JS running on any thread is terminated. Any
 * thread, no lock needed. */
static void rt_request_stop(rt_env *env) {
    pthread_mutex_lock(&env->smutex);
    int running = RT_RUNNING;
    if (env->setup && atomic_compare_exchange_strong(&env->state, &running, RT_STOPPING))
        em_setup_stop(env->setup);
    pthread_mutex_unlock(&env->smutex);
    pthread_mutex_lock(&env->qmutex);
    if (!env->wake_closed) uv_async_send(&env->wake);
    pthread_mutex_unlock(&env->qmutex);
}

/* Whether the calling thread may wait for env's loop thread to end: not that
 * thread itself, not one inside a call from its JS (the loop thread's teardown
 * needs the Node lock), and not a Node worker_thread (which the teardown of
 * the environment that started it joins). */
static int rt_can_join(rt_env *env) {
    return !nl_is_mine(env) && !pthread_equal(pthread_self(), env->loop_thread) &&
           !nl_thread_self()->node_worker;
}

/* Environments asked to stop by a thread that could not join their loop
 * thread, each with a reference: rt_join_stopped joins them later, from a
 * thread that can. Linked by `next_unjoined`; GIL. */
static rt_env *rt_unjoined;

static void rt_join_later(rt_env *env) {
    rt_request_stop(env);
    if (env->unjoined) return;
    env->unjoined = 1;
    rt_env_incref(env);
    env->next_unjoined = rt_unjoined;
    rt_unjoined = env;
}

void rt_join_stopped(int wait) {
    for (rt_env **link = &rt_unjoined; *link;) {
        rt_env *env = *link;
        if (!rt_can_join(env) || (!wait && atomic_load(&env->state) != RT_DEAD)) {
            link = &env->next_unjoined;
            continue;
        }
        *link = env->next_unjoined;
        env->unjoined = 0;
        rt_env_shutdown(env); /* cannot fail: this thread can join it */
        rt_env_decref(env);
        link = &rt_unjoined; /* the list may have changed while the GIL was released */
    }
}

int rt_env_shutdown(rt_env *env) {
    if (!atomic_load(&env->loop_thread_started)) return 0;
    if (atomic_load(&rt_forked)) {
        /* A forked child has none of the parent's threads: nothing to stop or
         * join (joining a thread that exists only in the parent waits forever
         * with newer glibc). */
        env->loop_thread_started = 0;
        atomic_store(&env->state, RT_DEAD);
        return 0;
    }
    if (nl_is_mine(env)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot shut down a Node environment from inside a call from its "
                        "JavaScript; use process.exit() there instead");
        return -1;
    }
    if (!rt_can_join(env)) {
        rt_join_later(env);
        return 0;
    }
    /* Concurrent close() calls: the first one stops and joins the loop thread,
     * the others wait for it to be done (a thread joined twice is undefined). */
    int joined = 0;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&env->jmutex);
    if (atomic_load(&env->loop_thread_started)) {
        rt_request_stop(env);
        pthread_join(env->loop_thread, NULL);
        atomic_store(&env->loop_thread_started, 0);
        joined = 1;
    }
    pthread_mutex_unlock(&env->jmutex);
    Py_END_ALLOW_THREADS
    if (joined) rt_env_decref(env); /* the loop thread's reference */
    return 0;
}

void rt_env_close(rt_env *env) {
    PyObject *pending = cp_err_take(); /* a dealloc keeps the caller's exception */
    if (nl_is_mine(env)) {
        rt_join_later(env);
    } else {
        rt_join_stopped(0);
        if (rt_env_shutdown(env) < 0) cp_write_unraisable("closing a Node environment");
    }
    rt_env_decref(env);
    cp_err_restore(pending);
}

/* ---- the linked binding ---- */

static rt_env *rt_env_of(napi_env napi) {
    void *data = NULL;
    napi_get_instance_data(napi, &data);
    return data;
}

/* binding.bootstrapPath() */
static napi_value rt_js_bootstrap_path(napi_env napi, napi_callback_info info) {
    (void)info;
    napi_value out = NULL;
    napi_create_string_utf8(napi, rt_env_of(napi)->bootstrap_path, NAPI_AUTO_LENGTH, &out);
    return out;
}

/* binding.getcwd(): the real working directory (Node caches process.cwd()). */
static napi_value rt_js_getcwd(napi_env napi, napi_callback_info info) {
    (void)info;
    rt_env *env = rt_env_of(napi);
    napi_value out = NULL;
    if (env->base_dir) {
        napi_create_string_utf8(napi, env->base_dir, NAPI_AUTO_LENGTH, &out);
        return out;
    }
    char buf[4096];
    if (!getcwd(buf, sizeof buf)) {
        napi_throw_error(napi, NULL, "cannot read the working directory");
        return NULL;
    }
    napi_create_string_utf8(napi, buf, NAPI_AUTO_LENGTH, &out);
    return out;
}

/* binding.init(helpers): keeps the bootstrap's helper functions. */
static napi_value rt_js_init(napi_env napi, napi_callback_info info) {
    static const char *const names[RT_H_COUNT] = {
        "require", "importModule", "evalScript", "inspect", "keys", "iter", "next",
        "settle", "describeError", "pyError", "entries", "Set", "Map", "PyObject",
        "done", "length", "markHandled", "str", "drain",
    };
    rt_env *env = rt_env_of(napi);
    size_t argc = 1;
    napi_value helpers, resource_name;
    if (napi_get_cb_info(napi, info, &argc, &helpers, NULL, NULL) != napi_ok || argc < 1)
        return NULL;
    for (int h = 0; h < RT_H_COUNT; h++) {
        napi_value v;
        if (napi_get_named_property(napi, helpers, names[h], &v) != napi_ok) return NULL;
        if (napi_create_reference(napi, v, 1, &env->helpers[h]) != napi_ok) return NULL;
    }
    napi_create_string_utf8(napi, "pymport_py", NAPI_AUTO_LENGTH, &resource_name);
    if (napi_async_init(napi, NULL, resource_name, &env->async_ctx) != napi_ok) return NULL;
    return NULL;
}

/* 1 when Python's sys.stdout (fd 1) or sys.stderr (fd 2) is a terminal now.
 * GIL held; leaves no exception. */
static int rt_stream_isatty(int32_t fd) {
    PyObject *stream = PySys_GetObject(fd == 2 ? "stderr" : "stdout"); /* borrowed */
    PyObject *tty = stream && stream != Py_None ? PyObject_CallMethod(stream, "isatty", NULL) : NULL;
    int is = tty == Py_True;
    Py_XDECREF(tty);
    PyErr_Clear();
    return is;
}

static int32_t rt_fd_arg(napi_env napi, napi_callback_info info) {
    size_t argc = 1;
    napi_value arg;
    int32_t fd = 1;
    if (napi_get_cb_info(napi, info, &argc, &arg, NULL, NULL) == napi_ok && argc >= 1)
        napi_get_value_int32(napi, arg, &fd);
    return fd;
}

/* binding.isatty(fd): whether Python's stream is a terminal (console.log asks
 * at every call, so this stays cheap). */
static napi_value rt_js_isatty(napi_env napi, napi_callback_info info) {
    int32_t fd = rt_fd_arg(napi, info);
    PyGILState_STATE gil = PyGILState_Ensure();
    int is = rt_stream_isatty(fd);
    PyGILState_Release(gil);
    napi_value out = NULL;
    napi_get_boolean(napi, is, &out);
    return out;
}

/* binding.terminal(fd): [columns, rows] when Python's stream is a terminal
 * now, else undefined. */
static napi_value rt_js_terminal(napi_env napi, napi_callback_info info) {
    int32_t fd = rt_fd_arg(napi, info);
    napi_value out = NULL;
    long size[2] = {0, 0};
    PyGILState_STATE gil = PyGILState_Ensure();
    if (rt_stream_isatty(fd)) {
        PyObject *shutil = PyImport_ImportModule("shutil");
        PyObject *ts = shutil ? PyObject_CallMethod(shutil, "get_terminal_size", NULL) : NULL;
        if (ts && PyTuple_Check(ts) && PyTuple_GET_SIZE(ts) >= 2) {
            size[0] = PyLong_AsLong(PyTuple_GET_ITEM(ts, 0));
            size[1] = PyLong_AsLong(PyTuple_GET_ITEM(ts, 1));
        }
        Py_XDECREF(ts);
        Py_XDECREF(shutil);
        PyErr_Clear();
    }
    PyGILState_Release(gil);
    if (size[0] <= 0 || size[1] <= 0) {
        napi_get_undefined(napi, &out);
        return out;
    }
    napi_value columns, rows;
    if (napi_create_array_with_length(napi, 2, &out) != napi_ok ||
        napi_create_int64(napi, size[0], &columns) != napi_ok ||
        napi_create_int64(napi, size[1], &rows) != napi_ok ||
        napi_set_element(napi, out, 0, columns) != napi_ok ||
        napi_set_element(napi, out, 1, rows) != napi_ok)
        return NULL;
    return out;
}

/* Writes a JS string to fd 1 or 2 as UTF-8, without Python. Returns NULL. */
static napi_value rt_write_raw(napi_env napi, int32_t fd, napi_value text) {
    size_t n = 0;
    if (napi_get_value_string_utf8(napi, text, NULL, 0, &n) != napi_ok) return NULL;
    char *buf = malloc(n + 1);
    if (buf && napi_get_value_string_utf8(napi, text, buf, n + 1, &n) == napi_ok &&
        write(fd == 2 ? 2 : 1, buf, n) < 0) {
    }
    free(buf);
    return NULL;
}

/* binding.write(fd, text): console output into Python's sys.stdout/stderr,
 * flushed, since node writes its stdio to files and pipes synchronously: a
 * console.log is out before the next statement runs. */
static napi_value rt_js_write(napi_env napi, napi_callback_info info) {
    rt_env *env = rt_env_of(napi);
    size_t argc = 2;
    napi_value argv[2];
    int32_t fd = 1;
    if (napi_get_cb_info(napi, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return NULL;
    napi_get_value_int32(napi, argv[0], &fd);
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return rt_write_raw(napi, fd, argv[1]);
    PyObject *text = cv_string_to_py(env, argv[1]);
    PyObject *stream = PySys_GetObject(fd == 2 ? "stderr" : "stdout"); /* borrowed */
    PyObject *res = NULL;
    if (text && stream && stream != Py_None) res = PyObject_CallMethod(stream, "write", "O", text);
    if (res) {
        /* Written: a stream that cannot flush (no flush method, a closed
         * pipe) keeps what it has rather than getting the text twice. */
        Py_DECREF(res);
        res = PyObject_CallMethod(stream, "flush", NULL);
        if (!res) {
            PyErr_Clear();
            res = Py_NewRef(Py_None);
        }
    }
    if (!res) {
        /* No usable Python stream: write the bytes to the fd itself. */
        PyErr_Clear();
        if (text) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(text, &n);
            if (s && write(fd == 2 ? 2 : 1, s, (size_t)n) < 0) {}
            PyErr_Clear();
        }
    }
    Py_XDECREF(res);
    Py_XDECREF(text);
    PyGILState_Release(gil);
    return NULL;
}

/* binding.unraisable(err, what): an error no Python caller waits for. */
static napi_value rt_js_unraisable(napi_env napi, napi_callback_info info) {
    rt_env *env = rt_env_of(napi);
    size_t argc = 2;
    napi_value argv[2];
    char what[128] = "uncaught JavaScript exception";
    if (napi_get_cb_info(napi, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
    if (argc >= 2) napi_get_value_string_utf8(napi, argv[1], what, sizeof what, NULL);
    er_unraisable(env, argv[0], what);
    return NULL;
}

/* `wake` of a worker_thread's environment has closed: the loop may end. */
static void rt_foreign_wake_closed(uv_handle_t *handle) {
    rt_env *env = handle->data;
    napi_remove_async_cleanup_hook(env->cleanup);
    PyGILState_STATE gil = PyGILState_Ensure();
    rt_env_decref(env);
    PyGILState_Release(gil);
}

/* The worker_thread's environment is being torn down (its thread): queued
 * work is cancelled, and `wake` closes before its loop does. */
static void rt_foreign_cleanup(napi_async_cleanup_hook_handle handle, void *data) {
    (void)handle;
    rt_env *env = data;
    rt_close_queue(env);
    pthread_mutex_lock(&env->qmutex);
    free(env->released); /* the environment's teardown deletes them all */
    env->released = NULL;
    env->nreleased = env->released_cap = 0;
    pthread_mutex_unlock(&env->qmutex);
    uv_close((uv_handle_t *)&env->wake, rt_foreign_wake_closed);
}

/* Gives a worker_thread's environment its `wake` handle on the thread's own
 * loop (unreferenced until a promise holds it), so that rt_post and
 * rt_release_ref work for it as for ours. Its thread; GIL held. */
static int rt_foreign_wake_init(napi_env napi, rt_env *env) {
    uv_loop_t *loop;
    if (napi_get_uv_event_loop(napi, &loop) != napi_ok) return -1;
    if (uv_async_init(loop, &env->wake, rt_on_wake) != 0) return -1;
    env->loop = loop;
    env->wake.data = env;
    uv_unref((uv_handle_t *)&env->wake);
    rt_env_incref(env); /* dropped when `wake` has closed */
    if (napi_add_async_cleanup_hook(napi, rt_foreign_cleanup, env, &env->cleanup) != napi_ok) {
        rt_foreign_cleanup(NULL, env); /* closes it again */
        return -1;
    }
    env->wake_closed = 0;
    return 0;
}

/* The environment of a Node worker_thread went away (its thread). */
static void rt_foreign_finalize(napi_env napi, void *data, void *hint) {
    (void)napi;
    (void)hint;
    rt_env *env = data;
    atomic_store(&env->state, RT_STOPPING);
    as_fail_pending(env);
    PyGILState_STATE gil = PyGILState_Ensure();
    rt_drop_kept_of(env); /* its thread ends */
    atomic_store(&env->state, RT_DEAD);
    nl_unmark_mine(env);
    rt_env_decref(env);
    PyGILState_Release(gil);
}

/* A Node worker_thread loads the binding: its environment becomes a foreign
 * rt_env, owned for good by that thread (which holds its isolate throughout). */
static rt_env *rt_register_worker(napi_env napi) {
    if (!rt_module || cp_is_finalizing()) return NULL;
    PyGILState_STATE gil = PyGILState_Ensure();
    rt_env *env = rt_env_alloc(rt_module, rt_bootstrap);
    if (env) {
        env->foreign = 1;
        nl_thread_self()->node_worker = 1;
        env->napi = napi;
        atomic_store(&env->state, RT_RUNNING);
        nl_mark_mine(env);
        if (napi_set_instance_data(napi, env, rt_foreign_finalize, NULL) != napi_ok) {
            nl_unmark_mine(env);
            rt_env_decref(env);
            env = NULL;
        } else if (rt_foreign_wake_init(napi, env) < 0) {
            env = NULL; /* the finalizer frees it with the environment */
        }
    } else {
        PyErr_Clear();
    }
    PyGILState_Release(gil);
    return env;
}

/* binding.ready(): the bootstrap ran in this environment. */
static napi_value rt_js_ready(napi_env napi, napi_callback_info info) {
    (void)info;
    napi_value out = NULL;
    napi_get_boolean(napi, rt_env_of(napi)->helpers[RT_H_COUNT - 1] != NULL, &out);
    return out;
}

napi_value rt_register_binding(napi_env napi, napi_value exports) {
    rt_env *env = rt_loading;
    if (env) {
        env->napi = napi;
        napi_set_instance_data(napi, env, NULL, NULL);
    } else if (!(env = rt_register_worker(napi))) {
        napi_throw_error(napi, NULL, "pymport_py is not available in this environment");
        return NULL;
    }
    napi_property_descriptor props[] = {
        {"bootstrapPath", NULL, rt_js_bootstrap_path, NULL, NULL, NULL, napi_default, NULL},
        {"getcwd", NULL, rt_js_getcwd, NULL, NULL, NULL, napi_default, NULL},
        {"init", NULL, rt_js_init, NULL, NULL, NULL, napi_default, NULL},
        {"ready", NULL, rt_js_ready, NULL, NULL, NULL, napi_default, NULL},
        {"write", NULL, rt_js_write, NULL, NULL, NULL, napi_default, NULL},
        {"terminal", NULL, rt_js_terminal, NULL, NULL, NULL, napi_default, NULL},
        {"isatty", NULL, rt_js_isatty, NULL, NULL, NULL, napi_default, NULL},
        {"unraisable", NULL, rt_js_unraisable, NULL, NULL, NULL, napi_default, NULL},
    };
    if (napi_define_properties(napi, exports, sizeof props / sizeof props[0], props) != napi_ok)
        return NULL;
    if (pyp_define_binding(napi, exports) != napi_ok) return NULL;
    if (pa_define_binding(napi, exports) != napi_ok) return NULL;
    return exports;
}
