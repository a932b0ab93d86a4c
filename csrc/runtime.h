/* runtime.h - environments (rt_): the rt_env struct and its life.
 *
 * An environment (rt_env) is one Node environment (isolate + context + libuv
 * loop) with a loop thread that runs its libuv loop in the background (or, for
 * a Node worker_thread's environment, the thread Node made for it:
 * foreign.c). The struct is shared by the files of the runtime, one concept
 * each: the Node lock (nodelock.h), interrupts (interrupts.h), calls into JS
 * (calls.h), the task queue (queue.h), the linked binding (binding.h) and
 * foreign environments (foreign.h). Its fields are grouped by concept and
 * each says who owns it.
 *
 * The Node lock is JavaScript's GIL: one per environment, re-entrant per
 * thread, a mutex plus the V8 Locker and scopes. The thread that holds it may
 * run JavaScript directly. Lock order is always Node lock, then GIL: a thread
 * never blocks on a Node lock while it holds the GIL. */
#ifndef PYMPORT_RUNTIME_H
#define PYMPORT_RUNTIME_H

#include "module.h"
#include "embed.h"
#include "table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <uv.h>

typedef enum {
    RT_STARTING = 0, /* loop thread is creating the environment */
    RT_RUNNING,      /* usable */
    RT_STOPPING,     /* node::Stop was called; no more JS; teardown pending */
    RT_DEAD,         /* torn down: setup freed, napi handles invalid */
} rt_state;

/* Helper functions that the bootstrap script hands to C (see js/bootstrap.js). */
typedef enum {
    RT_H_REQUIRE = 0, /* (id, base) => module.exports */
    RT_H_IMPORT,      /* (specifier, base, onFulfilled, onRejected) => void */
    RT_H_EVAL,        /* (source, base) => completion value */
    RT_H_INSPECT,     /* util.inspect */
    RT_H_KEYS,        /* (o) => property names, own and inherited */
    RT_H_ITER,        /* (o) => o[Symbol.iterator]() */
    RT_H_NEXT,        /* (it, done) => next value, or `done` */
    RT_H_SETTLE,      /* (p, onFulfilled, onRejected) => void */
    RT_H_DESCRIBE,    /* (e) => [name, message, stack, pythonValue] */
    RT_H_PYERROR,     /* (message, type, value, trace) => Error */
    RT_H_ENTRIES,     /* (m) => Array.from(m) */
    RT_H_SET,         /* Set */
    RT_H_MAP,         /* Map */
    RT_H_PYOBJECT,    /* class PyObject */
    RT_H_DONE,        /* a unique object: end of iteration */
    RT_H_LENGTH,      /* (o) => numeric length or size, or undefined */
    RT_H_HANDLED,     /* function(): marks `this` (a promise) as handled */
    RT_H_STR,         /* (o) => String(o), or util.inspect(o) when o has no string form */
    RT_H_DRAIN,       /* () => {}: called through cl_call, runs pending microtasks */
    RT_H_CALL,        /* (fn, this, ...args) => fn's result: calls from Python (cl_call) */
    RT_H_CONSTRUCT,   /* (fn, ...args) => new fn(...args): constructions from Python */
    RT_H_DROPPED,     /* (p): Python dropped a promise it never observed (jsp_dealloc) */
    RT_H_LIVE,        /* (target) => the live container's Proxy over target (js/live.js) */
    RT_H_PROMISE,     /* Promise, the constructor (await of a settled promise: async.c) */
    RT_H_COUNT
} rt_helper;

typedef struct rt_env rt_env;
typedef struct tq_task tq_task; /* queue.h */

/* Every field says who owns it: "set once before X" (written before any other
 * thread can reach it, then read-only), "GIL", "Node lock", a named mutex
 * (`smutex`, `qmutex`, `jmutex`), "atomic" (any thread), or one thread
 * ("loop thread", "its thread" for a foreign environment's). "The
 * environment's thread" is the loop thread, or a foreign environment's own. */
struct rt_env {
    /* ---- life (runtime.c) ---- */
    PyObject *module;      /* set once at creation (GIL); strong: the state outlives every callback */
    char *bootstrap_path;  /* set once at creation: the bootstrap script */
    char *base_dir;        /* set once at creation: default base for require/import, or NULL: the cwd */
    char **argv;           /* set once at creation: process.argv, NULL-terminated */
    char **exec_argv;      /* set once at creation: Node/V8 options, NULL-terminated */
    int foreign;           /* set once at creation: a Node worker_thread's environment (foreign.c) */
    long refcnt;           /* GIL: the Environment object, every JSObject, the loop thread, ... */
    pthread_t loop_thread; /* set once by rt_env_start (GIL), before the thread runs; joined under `jmutex` */
    /* atomic: set by rt_env_start (GIL); cleared by the thread that joined
     * the loop thread, under `jmutex`, or by rt_env_shutdown in a forked
     * child (GIL, nothing to join there) */
    atomic_int loop_thread_started;
    pthread_mutex_t jmutex; /* one thread at a time stops and joins the loop thread */
    int unjoined;          /* GIL: on the list of stopped environments to join (rt_join_stopped) */
    rt_env *next_unjoined; /* GIL: that list's link */
    _Atomic int state;     /* atomic: rt_state; RT_STOPPING from any thread, RT_DEAD by the environment's thread (or rt_env_shutdown in a forked child) */
    _Atomic int exit_requested; /* atomic: process.exit() was called */
    _Atomic int exit_code;      /* atomic: its code, stored before exit_requested */

    /* Start handshake, under `smutex`. */
    pthread_mutex_t smutex;
    pthread_cond_t scond;
    char start_error[1024]; /* smutex (written before RT_DEAD; read after the join) */

    /* ---- the Node environment: set once by the environment's thread before
     * RT_RUNNING (ours: the loop thread during the bootstrap; foreign: its
     * thread in fe_register_worker), then read under the Node lock ---- */
    em_setup *setup;       /* also NULL for a foreign one; set to NULL by the teardown under `smutex` */
    uv_loop_t *loop;       /* foreign: its thread's loop (fe_wake_init) */
    napi_env napi;         /* bd_register, or fe_register_worker */
    napi_async_context async_ctx; /* bd_js_init; destroyed by the teardown */
    napi_ref helpers[RT_H_COUNT]; /* bd_js_init; deleted by the teardown */

    /* ---- the Node lock (nodelock.c): `mutex` + the V8 scopes ---- */
    pthread_mutex_t mutex;
    _Atomic uintptr_t owner; /* atomic: nl_self() of the owner, 0 when free; written by the owner */
    unsigned depth;          /* Node lock (the owner only) */
    uint64_t serial;         /* set once: unique among every environment of the process */
    struct nl_park *parks;   /* nl_parks_mutex (nodelock.c): the V8 locks threads keep parked */
    uintptr_t starter;       /* set once: nl_self() of the thread that started it, the one that parks its lock */
    struct cv_keys *keys;    /* Node lock: property names as internalized JS strings (tojs.c) */
    int64_t sleep_until;     /* Node lock: loop time at which the loop thread wakes, -1 never */

    /* ---- turns (nodelock.c): the loop thread runs JS only between the
     * blocking points of the Python threads that use the environment ---- */
    _Atomic int py_callers;  /* atomic, changed with the GIL held: threads inside, or waiting for, an outermost nl_enter_with_gil */
    _Atomic int turns_held;  /* atomic, changed with the GIL held: open pymport_py.turn() blocks */
    _Atomic unsigned turn_calls; /* atomic: counts the outermost calls from Python (and turn() blocks) that ended */
    unsigned turn_seen;      /* loop thread, under `mutex`: turn_calls when its last turn began */
    _Atomic int loop_forced; /* atomic, loop thread: it waited past the limit and takes `mutex` next */
    _Atomic int turn_waiters; /* atomic: threads waiting on `tcond` */
    _Atomic unsigned python_waits; /* atomic: bumped when a Python thread is about to block on a result of this environment */
    unsigned waits_seen;     /* loop thread: python_waits when it began to back off */
    pthread_mutex_t tmutex;  /* with `tcond`: waits for the counts above to change */
    pthread_cond_t tcond;
    int64_t turn_limit_ns;   /* set once before the loop thread starts: how long it yields to calls from Python */
    int drain_pending;       /* Node lock: a call from Python may have left nextTicks and microtasks to run */

    /* ---- the task queue (queue.c) ---- */
    pthread_mutex_t qmutex;
    /* The environment's thread opens and closes it (uv_async_init, uv_close:
     * the loop thread, or a foreign environment's thread on its own loop);
     * uv_async_send from any thread under `qmutex` while !wake_closed, or by
     * the Node lock's holder (nl_leave_with_gil: the close happens under the
     * Node lock). */
    uv_async_t wake;
    int wake_closed;       /* qmutex: `wake` is not open: no uv_async_send, no new task */
    napi_ref *released;    /* qmutex: references to delete under the Node lock */
    size_t nreleased, released_cap; /* qmutex */
    tq_task *tasks_head, *tasks_tail; /* qmutex */
    _Atomic int holds;     /* atomic, changed under `qmutex`: pending promises of Python work (tq_hold) */
    napi_async_cleanup_hook_handle cleanup; /* foreign only, its thread: removed once `wake` has closed */
    /* Threads waiting for a JSFuture of this environment (tq_wait_settled)
     * take the GIL back once per batch of tasks rather than at every task. */
    _Atomic int batch_running;       /* atomic, written by the environment's thread: it runs a batch of tasks */
    _Atomic unsigned batch_progress; /* atomic, written by the environment's thread: counts the tasks run */

    /* ---- proxies and futures: GIL ---- */
    tb_table objects;      /* GIL: V8 identity hash -> JSObject (jsproxy.c) */
    tb_table pyobjects;    /* GIL: PyObject* -> pyp_record (pyproxy.c) */
    /* Node lock and GIL to change, Node lock to read: the proxies' V8
     * identity hashes (pyproxy.c), which tell most JS objects from a proxy
     * without looking up their private properties */
    tb_table pyhashes;
    struct as_pending *pending; /* GIL: futures waiting for a JS promise (async.c) */
    struct as_link *links;      /* GIL: promises waiting for a Python future (async.c) */

    /* ---- interrupts (interrupts.c): Ctrl-C, deadlines, the heap limit ---- */
    _Atomic int main_active;        /* atomic: Python's main thread is in an outermost call */
    _Atomic int64_t deadline_ns;    /* atomic: CLOCK_MONOTONIC deadline of a running call, 0: none */
    _Atomic uintptr_t deadline_owner; /* atomic: nl_self() of the thread that set it */
    _Atomic int64_t deadline_fired; /* atomic: when the watcher last asked for the interrupt, 0: not yet */
    _Atomic int stop_reason;        /* atomic: ir_stop_reason of the terminated JS */
    _Atomic uintptr_t stop_thread;  /* atomic: nl_self() of the thread whose JS was terminated */
    PyObject *interrupt_exc;        /* GIL: what the signal handlers raised */
    _Atomic int loop_call;          /* loop thread only (atomic): in an outermost cl_call (a task) */
    _Atomic int heap_stopped;       /* loop thread only (atomic): the heap limit stopped the environment */
};

/* Returns a new environment object (not started), or NULL with an exception.
 * GIL held. program: process.argv0; argv/exec_argv: sequences of str;
 * base_dir: str or None. */
rt_env *rt_env_new(PyObject *module, const char *bootstrap, const char *program,
                   PyObject *argv, PyObject *exec_argv, PyObject *base_dir);
/* Starts the loop thread and waits until the environment is running.
 * GIL held (released while waiting). Returns 0, or -1 with an exception. */
int rt_env_start(rt_env *env);
/* Stops the environment, fails pending calls, joins the loop thread. Any
 * thread, GIL held (released while joining), not holding this Node lock.
 * From a thread that cannot wait for the loop thread (the loop thread itself,
 * a Node worker_thread) the stop is asked for and the join is left to
 * rt_join_stopped. Returns 0, or -1 with an exception. */
int rt_env_shutdown(rt_env *env);
/* The Environment object drops its reference: shuts env down, or, on a thread
 * inside a call from env's JS, asks it to stop and leaves the join to
 * rt_join_stopped. Never raises. GIL held. */
void rt_env_close(rt_env *env);
/* Joins the loop threads of environments stopped from threads that could not
 * join them: those that ended, or with `wait` all (the exit hook). Skips those
 * this thread cannot join. GIL held (released while joining). */
void rt_join_stopped(int wait);
/* Returns a new environment struct (refcnt 1, not started, no argv), or NULL
 * with an exception. GIL held. */
rt_env *rt_env_alloc(PyObject *module, const char *bootstrap);
/* Reference counting (GIL held). The last decref frees the struct. */
void rt_env_incref(rt_env *env);
void rt_env_decref(rt_env *env);

/* Borrowed. The module state of the environment. */
static inline mod_state *rt_state_of(rt_env *env) { return mod_get_state(env->module); }

/* True on the loop thread of env. Any thread. */
static inline int rt_is_loop_thread(rt_env *env) {
    return pthread_equal(pthread_self(), env->loop_thread);
}

/* True in a child forked after Node started: nothing of Node may be used. */
int rt_is_forked_child(void);

/* CLOCK_MONOTONIC, in ns. */
static inline int64_t rt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Raises EnvironmentClosed (or ProcessExit when process.exit() stopped it).
 * GIL held. Returns -1. */
int rt_raise_closed(rt_env *env);

/* For a call cut short by the environment stopping: raises ProcessExit(code)
 * when process.exit() stopped it, else EnvironmentClosed. GIL held. Returns -1. */
int rt_raise_cut_short(rt_env *env);

#endif
