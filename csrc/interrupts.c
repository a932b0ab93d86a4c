/* interrupts.c - Ctrl-C, deadlines and the heap limit (ir_).
 *
 * Process-wide, one watcher thread (native, never seen by Python). Python's C
 * signal handler writes a byte to the wakeup fd (signal.set_wakeup_fd,
 * installed by pymport_py when it is free); the watcher then asks the
 * environments in which the main thread runs JS to interrupt it, and the
 * interrupt (on that thread, Node lock held) runs Python's signal handlers; if
 * they raise, the JS is terminated and the call raises that exception.
 * Deadlines work the same way, from the watcher's timeout; the heap limit
 * from V8's near-heap-limit callback. The termination ends when the thread's
 * outermost call returns (ir_end_termination), and the call then raises
 * (ir_raise_interrupt). The per-call state is atomic in rt_env (any thread);
 * what a thread has to raise next is in its nl_thread (own thread). */
#include "interrupts.h"

#include "errors.h"
#include "nodelock.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

static struct {
    pthread_once_t once;
    pthread_mutex_t mutex;   /* protects envs, n, cap */
    rt_env **envs;           /* mutex: running environments */
    size_t n, cap;           /* mutex */
    int kick[2];             /* set once (ir_watch_init): pipe, recompute deadlines */
    int sig[2];              /* set once (ir_watch_init): pipe, Python's signal wakeup fd */
    int ok;                  /* set once (ir_watch_init): the watcher runs */
} ir_watch = {.once = PTHREAD_ONCE_INIT, .mutex = PTHREAD_MUTEX_INITIALIZER};

/* Python's main thread (process-wide, set once at import): Ctrl-C reaches it. */
static _Atomic unsigned long ir_main_ident;

void ir_set_main_thread(unsigned long ident) { atomic_store(&ir_main_ident, ident); }

static int ir_is_main_thread(void) {
    return PyThread_get_thread_ident() == atomic_load_explicit(&ir_main_ident, memory_order_relaxed);
}

static void ir_drain_fd(int fd) {
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {}
}

/* The interrupt on the thread running JS (Node lock held): Python's main
 * thread runs the signal handlers; an exception terminates its JS. */
static void ir_on_signal(void *data) {
    rt_env *env = data;
    if (!atomic_load(&env->main_active) || !ir_is_main_thread()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (PyErr_CheckSignals() < 0) {
        Py_XSETREF(env->interrupt_exc, er_take());
        atomic_store(&env->stop_thread, nl_self());
        atomic_store(&env->stop_reason, IR_STOP_SIGNAL);
        em_setup_terminate(env->setup);
    }
    PyGILState_Release(gil);
}

static void ir_kick_watcher(void);

/* The watcher reads a call's deadline and its `deadline_fired` one after the
 * other: between the two, that call may end and the next one start, so the
 * interrupt can come for a deadline that has not passed (or another thread's).
 * It then hands the deadline back to the watcher, which would otherwise take
 * it as delivered and never stop the new call. */
static void ir_on_deadline(void *data) {
    rt_env *env = data;
    int64_t deadline = atomic_load(&env->deadline_ns);
    if (!deadline || atomic_load(&env->deadline_owner) != nl_self() || rt_now_ns() < deadline) {
        atomic_store(&env->deadline_fired, 0);
        ir_kick_watcher();
        return;
    }
    atomic_store(&env->stop_thread, nl_self());
    atomic_store(&env->stop_reason, IR_STOP_DEADLINE);
    em_setup_terminate(env->setup);
}

/* The heap neared its limit, on the thread running JS (Node lock held). JS
 * called by pymport_py (cl_invoke) is terminated and the call raises
 * MemoryError. JS that Node's event loop called (a timer, I/O) cannot be
 * stopped alone without unbalancing Node's state: the environment stops. */
void ir_on_heap_limit(void *data) {
    rt_env *env = data;
    if (rt_is_loop_thread(env) && !atomic_load(&env->loop_call)) {
        atomic_store(&env->heap_stopped, 1);
        int running = RT_RUNNING;
        atomic_compare_exchange_strong(&env->state, &running, RT_STOPPING);
        em_setup_stop(env->setup);
        return;
    }
    atomic_store(&env->stop_thread, nl_self());
    atomic_store(&env->stop_reason, IR_STOP_HEAP);
}

#define IR_REDELIVER_NS (50LL * 1000000)

static void *ir_watch_main(void *unused) {
    (void)unused;
    for (;;) {
        int64_t now = rt_now_ns(), next = 0;
        pthread_mutex_lock(&ir_watch.mutex);
        for (size_t i = 0; i < ir_watch.n; i++) {
            rt_env *env = ir_watch.envs[i];
            int64_t deadline = atomic_load(&env->deadline_ns);
            if (!deadline) continue;
            if (deadline > now) {
                if (!next || deadline < next) next = deadline;
                continue;
            }
            /* Past: ask for the interrupt, and again every IR_REDELIVER_NS
             * while the call runs on. One delivery is not trusted: a request
             * that lands while another thread holds the isolate (the loop
             * thread between two calls) may reach the running call late, if
             * at all (V8 keeps interrupt flags per thread under its Locker). */
            int64_t fired = atomic_load(&env->deadline_fired);
            if (!fired || now - fired >= IR_REDELIVER_NS) {
                atomic_store(&env->deadline_fired, now);
                em_setup_request_interrupt(env->setup, ir_on_deadline, env);
                fired = now;
            }
            if (!next || fired + IR_REDELIVER_NS < next) next = fired + IR_REDELIVER_NS;
        }
        pthread_mutex_unlock(&ir_watch.mutex);
        int timeout = next ? (int)((next - now) / 1000000) + 1 : -1;
        struct pollfd fds[2] = {{.fd = ir_watch.kick[0], .events = POLLIN},
                                {.fd = ir_watch.sig[0], .events = POLLIN}};
        if (poll(fds, 2, timeout) <= 0) continue;
        if (fds[0].revents) ir_drain_fd(ir_watch.kick[0]);
        if (fds[1].revents) {
            ir_drain_fd(ir_watch.sig[0]);
            pthread_mutex_lock(&ir_watch.mutex);
            for (size_t i = 0; i < ir_watch.n; i++)
                if (atomic_load(&ir_watch.envs[i]->main_active))
                    em_setup_request_interrupt(ir_watch.envs[i]->setup, ir_on_signal,
                                               ir_watch.envs[i]);
            pthread_mutex_unlock(&ir_watch.mutex);
        }
    }
    return NULL;
}

static int ir_pipe(int fds[2]) {
    if (pipe(fds) < 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

static void ir_watch_init(void) {
    if (ir_pipe(ir_watch.kick) < 0) return;
    if (ir_pipe(ir_watch.sig) < 0) return;
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ir_watch.ok = pthread_create(&thread, &attr, ir_watch_main, NULL) == 0;
    pthread_attr_destroy(&attr);
}

static void ir_kick_watcher(void) {
    if (ir_watch.ok && write(ir_watch.kick[1], "k", 1) < 0) {}
}

/* Adds (add = 1) or removes an environment. Any thread. */
void ir_watch_env(rt_env *env, int add) {
    pthread_once(&ir_watch.once, ir_watch_init);
    pthread_mutex_lock(&ir_watch.mutex);
    if (add) {
        if (ir_watch.n == ir_watch.cap) {
            size_t cap = ir_watch.cap ? ir_watch.cap * 2 : 8;
            rt_env **grown = realloc(ir_watch.envs, cap * sizeof *grown);
            if (grown) {
                ir_watch.envs = grown;
                ir_watch.cap = cap;
            }
        }
        if (ir_watch.n < ir_watch.cap) ir_watch.envs[ir_watch.n++] = env;
    } else {
        for (size_t i = 0; i < ir_watch.n; i++) {
            if (ir_watch.envs[i] == env) {
                ir_watch.envs[i] = ir_watch.envs[--ir_watch.n];
                break;
            }
        }
    }
    pthread_mutex_unlock(&ir_watch.mutex);
}

int ir_signal_fd(void) {
    pthread_once(&ir_watch.once, ir_watch_init);
    return ir_watch.ok ? ir_watch.sig[1] : -1;
}

void ir_set_deadline(int64_t deadline_ns) { nl_thread_self()->deadline_ns = deadline_ns; }

int64_t ir_get_deadline(void) { return nl_thread_self()->deadline_ns; }

int ir_raise_interrupt(rt_env *env) {
    nl_thread *me = nl_thread_self();
    int reason = me->report;
    PyObject *exc = NULL;
    if (reason) {
        me->report = IR_STOP_NONE;
        exc = me->report_exc;
        me->report_exc = NULL;
    } else if (atomic_load(&env->stop_thread) == (uintptr_t)me) {
        /* Inside nested calls: unwind with the same kind of exception. */
        reason = atomic_load(&env->stop_reason);
        if (reason == IR_STOP_SIGNAL) exc = Py_XNewRef(env->interrupt_exc);
    }
    switch (reason) {
    case IR_STOP_SIGNAL:
        if (exc) PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
        else PyErr_SetNone(PyExc_KeyboardInterrupt);
        return -1;
    case IR_STOP_DEADLINE:
        Py_XDECREF(exc);
        PyErr_SetString(PyExc_TimeoutError, "JavaScript ran past its pymport_py.deadline()");
        return -1;
    case IR_STOP_HEAP:
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

/* ---- around each call into JS (cl_invoke) ---- */

int ir_call_begin(rt_env *env, ir_call *call) {
    call->outer = env->depth == 1;
    call->loop_call = call->outer && rt_is_loop_thread(env);
    call->main_call = call->outer && !call->loop_call && ir_is_main_thread();
    call->deadline = call->outer ? nl_thread_self()->deadline_ns : 0;
    if (call->loop_call) atomic_store(&env->loop_call, 1);
    if (call->main_call) {
        atomic_store(&env->main_active, 1);
        /* A signal that came before main_active was set found no call to stop
         * (the watcher skips idle environments): handle it here, or JS that
         * never returns would never see it. Later ones find main_active set. */
        if (PyErr_CheckSignals() < 0) {
            nl_thread *me = nl_thread_self();
            me->report = IR_STOP_SIGNAL;
            Py_XSETREF(me->report_exc, er_take());
            atomic_store(&env->main_active, 0);
            return -1;
        }
    }
    if (call->deadline) {
        atomic_store(&env->deadline_owner, nl_self());
        atomic_store(&env->deadline_fired, 0);
        atomic_store(&env->deadline_ns, call->deadline);
        ir_kick_watcher();
    }
    return 0;
}

void ir_call_end(rt_env *env, const ir_call *call) {
    if (call->loop_call) atomic_store(&env->loop_call, 0);
    if (call->main_call) atomic_store(&env->main_active, 0);
    if (call->deadline) atomic_store(&env->deadline_ns, 0);
}

void ir_report(rt_env *env, int reason) {
    nl_thread *me = nl_thread_self();
    me->report = reason;
    Py_XSETREF(me->report_exc, env->interrupt_exc);
    env->interrupt_exc = NULL;
}

int ir_end_termination(rt_env *env) {
    if (atomic_load(&env->stop_thread) != nl_self()) return IR_STOP_NONE;
    int reason = atomic_exchange(&env->stop_reason, IR_STOP_NONE);
    atomic_store(&env->stop_thread, 0);
    if (atomic_load(&env->state) == RT_RUNNING) em_setup_cancel_terminate(env->setup);
    return reason;
}
