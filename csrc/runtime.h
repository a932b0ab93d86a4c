/* runtime.h - environments, their loop threads and the Node lock.
 *
 * An environment (rt_env) is one Node environment (isolate + context + libuv
 * loop) with a loop thread that runs its libuv loop in the background.
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
#include <uv.h>

/* Why the JS of a call was terminated (rt_env.stop_reason). */
typedef enum {
    RT_STOP_NONE = 0,
    RT_STOP_SIGNAL,   /* a Python signal handler raised (Ctrl-C: KeyboardInterrupt) */
    RT_STOP_DEADLINE, /* pymport_py.deadline() passed: TimeoutError */
    RT_STOP_HEAP,     /* the heap limit: MemoryError */
} rt_stop_reason;

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
    RT_H_DRAIN,       /* () => {}: called through rt_call, runs pending microtasks */
    RT_H_COUNT
} rt_helper;

/* Work for the loop thread (rt_post). */
typedef struct rt_env rt_env;
typedef struct rt_task rt_task;
struct rt_task {
    rt_task *next; /* queue link, under the environment's `qmutex` */
    /* Runs on the loop thread with the Node lock held (not the GIL); owns the task. */
    void (*run)(rt_env *env, rt_task *task);
    /* Runs instead when the environment closes first; Node lock may be held, the
     * GIL is not; owns the task. */
    void (*cancel)(rt_env *env, rt_task *task);
};

struct rt_env {
    /* Set once at creation (GIL). */
    PyObject *module;      /* strong: the state outlives every callback */
    char *bootstrap_path;  /* the bootstrap script */
    char *base_dir;        /* default base for require/import, or NULL: the cwd */
    char **argv;           /* process.argv, NULL-terminated */
    char **exec_argv;      /* Node/V8 options, NULL-terminated */
    pthread_t loop_thread; /* joined by rt_env_shutdown, under `jmutex` */
    atomic_int loop_thread_started; /* set under the GIL by rt_env_start; cleared under `jmutex` */
    pthread_mutex_t jmutex; /* one thread at a time stops and joins the loop thread */
    int foreign;           /* set once: a Node worker_thread's environment, owned by its thread */
    long refcnt;           /* GIL: the Environment object, every JSObject, the loop thread */
    int unjoined;          /* GIL: on the list of stopped environments to join (rt_join_stopped) */
    rt_env *next_unjoined; /* GIL: that list's link */

    /* Set once by the loop thread before RT_RUNNING. */
    em_setup *setup;       /* NULL after teardown (under `smutex`) */
    uv_loop_t *loop;
    napi_env napi;
    napi_async_context async_ctx;
    napi_ref helpers[RT_H_COUNT];
    uv_async_t wake;       /* loop thread owns; uv_async_send from any thread */

    _Atomic int state;     /* rt_state */
    _Atomic int exit_requested; /* process.exit() was called */
    _Atomic int exit_code;

    /* Start handshake, protected by `smutex`. */
    pthread_mutex_t smutex;
    pthread_cond_t scond;
    char start_error[1024];

    /* The Node lock: `mutex` + the V8 scopes. */
    pthread_mutex_t mutex;
    _Atomic uintptr_t owner; /* nl_self() of the owner, 0 when free */
    unsigned depth;          /* owner only */
    int64_t sleep_until;     /* Node lock: loop time at which the loop thread wakes, -1 never */

    /* References to release on the loop thread, protected by `qmutex`. */
    pthread_mutex_t qmutex;
    napi_ref *released;
    size_t nreleased, released_cap;
    int wake_closed;       /* `wake` is closed: uv_async_send is no longer allowed */

    /* Identity maps, protected by the GIL. */
    tb_table objects;   /* V8 identity hash -> JSObject (jsproxy.c) */
    tb_table pyobjects; /* PyObject* -> pyp_record (pyproxy.c) */

    /* Tasks for the loop thread, protected by `qmutex`. */
    rt_task *tasks_head, *tasks_tail;
    /* Futures waiting for a JS promise (async.c), protected by the GIL. */
    struct as_pending *pending;
    /* Promises waiting for a Python future (async.c), protected by the GIL. */
    struct as_link *links;

    /* Interrupts: Ctrl-C, deadlines, the heap limit. */
    _Atomic int main_active;        /* Python's main thread is in an outermost call */
    _Atomic int64_t deadline_ns;    /* CLOCK_MONOTONIC deadline of a running call, 0: none */
    _Atomic uintptr_t deadline_owner; /* nl_self() of the thread that set it */
    _Atomic int deadline_fired;     /* the watcher asked for the interrupt */
    _Atomic int stop_reason;        /* rt_stop_reason of the terminated JS */
    _Atomic uintptr_t stop_thread;  /* nl_self() of the thread whose JS was terminated */
    PyObject *interrupt_exc;        /* GIL: what the signal handlers raised */
    _Atomic int loop_call;          /* the loop thread is in an outermost rt_call (a task) */
    _Atomic int heap_stopped;       /* the heap limit stopped the environment */

    _Atomic int holds;              /* pending promises of Python work (rt_hold) */
    napi_async_cleanup_hook_handle cleanup; /* removed once `wake` has closed */
};

/* A token unique to the calling thread. */
uintptr_t nl_self(void);

/* Returns a new environment object (not started), or NULL with an exception.
 * GIL held. argv/exec_argv: sequences of str; base_dir: str or None. */
rt_env *rt_env_new(PyObject *module, const char *bootstrap, PyObject *argv,
                   PyObject *exec_argv, PyObject *base_dir);
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
/* Reference counting (GIL held). The last decref frees the struct. */
void rt_env_incref(rt_env *env);
void rt_env_decref(rt_env *env);

/* Borrowed. The module state of the environment. */
static inline mod_state *rt_state_of(rt_env *env) { return mod_get_state(env->module); }

/* True when the calling thread holds the Node lock of env. */
static inline int nl_is_mine(rt_env *env) {
    return atomic_load_explicit(&env->owner, memory_order_relaxed) == nl_self();
}

/* Takes the Node lock for an operation from Python and opens a handle scope.
 * GIL held on entry and on return (released while blocking on the lock).
 * Returns 0, or -1 with EnvironmentClosed set. Pair with nl_leave_with_gil. */
typedef struct {
    em_scope scope;          /* entered when this frame took the lock */
    napi_handle_scope hscope;
} nl_frame;
int nl_enter_with_gil(rt_env *env, nl_frame *frame);
/* nl_enter_with_gil without waiting: returns 1 with the lock taken, or 0 (no exception)
 * when another thread holds it or the environment is not running. GIL held. */
int nl_try_enter_with_gil(rt_env *env, nl_frame *frame);

/* Closes the handle scope and releases one level of the Node lock, waking the
 * loop thread if the call changed what it waits for. GIL held. */
void nl_leave_with_gil(rt_env *env, nl_frame *frame);

/* Calls fn with this `recv` through napi_make_callback, so microtasks and
 * nextTicks run afterwards at the outermost level. Node lock and GIL held; the
 * GIL is released while JS runs. Returns the napi status; on failure the JS
 * exception is kept for er_from_status (rt_take_exception). */
napi_status rt_call(rt_env *env, napi_value recv, napi_value fn, size_t argc,
                    const napi_value *argv, napi_value *result);
/* The exception of this thread's last failed rt_call or rt_construct (kept
 * aside while microtasks ran): returns 1 with *out set (and forgets it), or 0.
 * Node lock held. */
int rt_take_exception(rt_env *env, napi_value *out);

/* `new ctor(...argv)`, with the same rules as rt_call. */
napi_status rt_construct(rt_env *env, napi_value ctor, size_t argc, const napi_value *argv,
                         napi_value *result);
/* Calls helper h with `undefined` as this. Same rules as rt_call. */
napi_status rt_call_helper(rt_env *env, rt_helper h, size_t argc, const napi_value *argv,
                           napi_value *result);
/* Gets helper h. Node lock held. */
napi_value rt_helper_value(rt_env *env, rt_helper h);

/* Queues a task for the loop thread and wakes it. Any thread, no lock needed.
 * Returns 0, or -1 when the environment is closing (the task was not queued
 * and is still the caller's). */
int rt_post(rt_env *env, rt_task *task);

/* A pending operation keeps the environment busy (rt_loop_busy), and a
 * worker_thread's event loop alive, as Node's own async operations do, until
 * rt_unhold. rt_hold: Node lock held; rt_unhold: any thread, GIL held. */
void rt_hold(rt_env *env);
void rt_unhold(rt_env *env);

/* True when something would keep a `node` process running: a referenced
 * libuv handle or request other than pymport_py's own, or a hold. Node lock
 * held (the loop thread is then outside uv_run). */
int rt_loop_busy(rt_env *env);

/* Queues a reference to be deleted under the Node lock (now if the lock is
 * free or ours, else by the loop thread). GIL held. */
void rt_release_ref(rt_env *env, napi_ref ref);

/* Raises EnvironmentClosed (or ProcessExit when process.exit() stopped it).
 * GIL held. Returns -1. */
int rt_raise_closed(rt_env *env);

/* For a call cut short by the environment stopping: raises ProcessExit(code)
 * when process.exit() stopped it, else EnvironmentClosed. GIL held. Returns -1. */
int rt_raise_cut_short(rt_env *env);

/* The pending interrupt of the calling thread, as a Python exception: returns
 * -1 with KeyboardInterrupt (or what the signal handler raised), TimeoutError
 * or MemoryError set when this thread's JS was terminated for one, else 0.
 * Node lock and GIL held. */
int rt_raise_interrupt(rt_env *env);

/* The wakeup fd for Python's signal.set_wakeup_fd (a non-blocking pipe), or
 * -1. Starts the watcher thread. */
int rt_signal_fd(void);

/* Marks the calling thread as inside a call from JS into Python (nests). */
void nl_begin_python_callback(void);
void nl_end_python_callback(void);
/* How long nl_enter_with_gil waits for a lock whose owner stays in a Python callback
 * (ns; 0: no limit). */
void nl_set_python_wait_limit(int64_t ns);

/* Records Python's main thread (PyThread_get_thread_ident) for Ctrl-C. */
void rt_set_main_thread(unsigned long ident);

/* Sets or clears (0) the calling thread's deadline, in CLOCK_MONOTONIC ns. */
void rt_set_deadline(int64_t deadline_ns);
int64_t rt_get_deadline(void);

/* The linked binding's register function (runs during bootstrap). */
napi_value rt_register_binding(napi_env napi, napi_value exports);

#endif
