/* runtime.c - the life of an environment (rt_): creation, the loop thread,
 * start, stop, join and teardown, and what fork() leaves of it.
 *
 * Threads:
 * - the loop thread of an environment creates it, runs its libuv loop with the
 *   Node lock taken only while it runs callbacks (nodelock.c), and tears it
 *   down;
 * - any Python thread starts, stops and joins it, with the GIL held (released
 *   while it waits);
 * - any Python thread takes the Node lock (nl_enter_with_gil) to run JS directly.
 * Lock order: Node lock, then GIL. The loop thread never holds the GIL except
 * inside callbacks into Python (PyGILState_Ensure). Environments' fields and
 * their owners: runtime.h. */
#include "runtime.h"

#include "async.h"
#include "binding.h"
#include "calls.h"
#include "convert.h"
#include "foreign.h"
#include "interrupts.h"
#include "nodelock.h"
#include "queue.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int rt_is_forked_child(void) { return atomic_load(&rt_forked); }

/* ---- creation and reference counting ---- */

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

rt_env *rt_env_alloc(PyObject *module, const char *bootstrap) {
    rt_env *env = calloc(1, sizeof *env);
    if (!env) return (rt_env *)PyErr_NoMemory();
    static _Atomic uint64_t serials;
    env->refcnt = 1;
    env->serial = atomic_fetch_add(&serials, 1) + 1;
    env->module = Py_NewRef(module);
    pthread_mutex_init(&env->mutex, NULL);
    pthread_mutex_init(&env->smutex, NULL);
    pthread_mutex_init(&env->qmutex, NULL);
    pthread_mutex_init(&env->jmutex, NULL);
    pthread_mutex_init(&env->tmutex, NULL);
    pthread_cond_init(&env->scond, NULL);
    pthread_cond_init(&env->tcond, NULL);
    atomic_store(&env->state, RT_STARTING);
    env->sleep_until = -1;
    env->wake_closed = 1; /* until the loop thread opened it */
    if (!(env->bootstrap_path = strdup(bootstrap))) {
        rt_env_decref(env);
        return (rt_env *)PyErr_NoMemory();
    }
    return env;
}

rt_env *rt_env_new(PyObject *module, const char *bootstrap, const char *program,
                   PyObject *argv, PyObject *exec_argv, PyObject *base_dir) {
    pthread_once(&rt_atfork_once, rt_install_atfork);
    fe_remember(module, bootstrap);
    rt_env *env = rt_env_alloc(module, bootstrap);
    if (!env) return NULL;
    if (base_dir != Py_None) {
        const char *b = PyUnicode_AsUTF8(base_dir);
        if (!b) goto error;
        if (!(env->base_dir = strdup(b))) goto nomem;
    }
    /* process.argv is [program, ...argv] like `node script args` (Node then
     * puts process.execPath in argv[0]; process.argv0 keeps the program). */
    PyObject *full = Py_BuildValue("[s]", program);
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
    tb_free(&env->pyhashes);
    free(env->released);
    free(env->bootstrap_path);
    free(env->base_dir);
    rt_strv_free(env->argv);
    rt_strv_free(env->exec_argv);
    pthread_mutex_destroy(&env->mutex);
    pthread_mutex_destroy(&env->smutex);
    pthread_mutex_destroy(&env->qmutex);
    pthread_mutex_destroy(&env->jmutex);
    pthread_mutex_destroy(&env->tmutex);
    pthread_cond_destroy(&env->scond);
    pthread_cond_destroy(&env->tcond);
    Py_CLEAR(env->interrupt_exc);
    Py_CLEAR(env->module);
    free(env);
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

int rt_raise_cut_short(rt_env *env) {
    if (!atomic_load(&env->exit_requested)) return rt_raise_closed(env);
    PyObject *code = PyLong_FromLong(atomic_load(&env->exit_code));
    if (code) {
        PyErr_SetObject(rt_state_of(env)->ProcessExit, code);
        Py_DECREF(code);
    }
    return -1;
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
    tq_wake(env);
}

/* Tears the environment down. Loop thread, Node lock held at depth 1 with the
 * V8 scopes in `scope`; returns with the lock released and the state DEAD. */
static void rt_teardown(rt_env *env, em_scope *scope, int loaded) {
    em_setup *setup = env->setup;
    ir_watch_env(env, 0);
    pthread_mutex_lock(&env->smutex);
    atomic_store(&env->state, RT_STOPPING);
    em_setup_stop(setup);
    pthread_mutex_unlock(&env->smutex);
    if (loaded) {
        tq_drain_released(env);
        for (int h = 0; h < RT_H_COUNT; h++)
            if (env->helpers[h]) napi_delete_reference(env->napi, env->helpers[h]);
        if (env->async_ctx) napi_async_destroy(env->napi, env->async_ctx);
    }
    tq_close(env);
    if (loaded) as_fail_pending(env);
    uv_close((uv_handle_t *)&env->wake, NULL);
    uv_run(env->loop, UV_RUN_NOWAIT); /* completes the close */
    nl_unmark_mine(env);
    em_scope_exit(scope);
    /* No one may call node::Stop on the setup from here on. */
    pthread_mutex_lock(&env->smutex);
    env->setup = NULL;
    pthread_mutex_unlock(&env->smutex);
    int keep = nl_forget_parks(env); /* their isolate goes now */
    if (loaded) cv_keys_free(env);
    /* Frees environment, isolate and loop; napi finalizers of proxies of Python
     * objects run here and take the GIL (the joining thread released it). */
    if (!keep) em_setup_destroy(setup);
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

/* Node's bootstrap runs on the loop thread, whose malloc arena keeps what the
 * bootstrap allocated and freed again (about 0.5 MiB): the first environment
 * of the process gives it back to the system once it has started (0.1 ms).
 * Later ones leave it: trimming walks every thread's arena under its lock.
 * Loop thread. */
static void rt_trim_after_first_start(void) {
    static atomic_int trimmed;
    if (!atomic_exchange(&trimmed, 1)) malloc_trim(0);
}

static void rt_loop_run(rt_env *env) {
    char error[1024] = "";
    if (em_process_init(error, sizeof error) < 0) {
        rt_signal_started(env, RT_DEAD, error);
        return;
    }
    env->setup = em_setup_create((const char *const *)env->argv, rt_strv_len(env->argv),
                                 (const char *const *)env->exec_argv,
                                 rt_strv_len(env->exec_argv), error, sizeof error);
    if (!env->setup) {
        em_undo_stack_size((const char *const *)env->exec_argv, rt_strv_len(env->exec_argv));
        rt_signal_started(env, RT_DEAD, error);
        return;
    }
    env->loop = em_setup_loop(env->setup);
    em_scope scope;
    nl_lock_without_gil(env, &scope);
    em_setup_add_binding(env->setup, "pymport_py", bd_register);
    em_setup_on_exit(env->setup, rt_on_process_exit, env);
    em_setup_on_heap_limit(env->setup, ir_on_heap_limit, env);
    /* `wake` stays referenced: the loop is then always alive, so
     * uv_backend_timeout gives the time to the next timer (or -1) rather than 0
     * for "nothing keeps the loop alive", which would make the thread spin. */
    uv_async_init(env->loop, &env->wake, tq_on_wake);
    env->wake.data = env;
    tq_open(env);

    if (bd_load(env, error, sizeof error) < 0) {
        rt_teardown(env, &scope, env->napi != NULL);
        em_undo_stack_size((const char *const *)env->exec_argv, rt_strv_len(env->exec_argv));
        rt_signal_started(env, RT_DEAD, error);
        return;
    }
    ir_watch_env(env, 1);
    rt_trim_after_first_start();
    rt_signal_started(env, RT_RUNNING, NULL);

    while (atomic_load(&env->state) == RT_RUNNING) {
        cl_run_deferred(env, 0);
        uv_run(env->loop, UV_RUN_NOWAIT);
        if (atomic_load(&env->heap_stopped)) rt_report_heap_stop(env);
        em_setup_drain_tasks(env->setup);
        tq_drain_released(env);
        if (atomic_load(&env->state) != RT_RUNNING) break;
        int timeout = uv_backend_timeout(env->loop);
        env->sleep_until = timeout < 0 ? -1 : (int64_t)(uv_now(env->loop) + (uint64_t)timeout);
        struct pollfd pfd = {.fd = uv_backend_fd(env->loop), .events = POLLIN};
        nl_unlock_without_gil(env, &scope);
        poll(&pfd, 1, timeout);
        nl_lock_for_turn(env, &scope);
    }
    cl_thread_ends();
    rt_teardown(env, &scope, 1);
}

/* The loop thread keeps one Python thread state for its whole life: it takes
 * the GIL at each turn (nl_lock_for_turn) and in every callback, and a thread
 * state made and freed each time would cost an allocation each, and on 3.11
 * crashes in tracemalloc when tracing is on (it allocates the new state before
 * it exists). */
static void *rt_loop_main(void *arg) {
    rt_env *env = arg;
    PyGILState_STATE gil;
    PyThreadState *own = cp_gil_ensure(&gil) ? PyEval_SaveThread() : NULL;
    rt_loop_run(env);
    if (own && !cp_is_finalizing()) {
        PyEval_RestoreThread(own);
        PyGILState_Release(gil);
    }
    return NULL;
}

/* How long the loop thread yields to calls from Python that come back to
 * back (nodelock.c): ten switch intervals, so that a thread that calls JS in
 * a loop without blocking lets timers in every 50 ms by default. GIL held.
 * Returns 0, or -1 with an exception. */
static int rt_set_turn_limit(rt_env *env) {
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *interval = sys ? PyObject_CallMethod(sys, "getswitchinterval", NULL) : NULL;
    Py_XDECREF(sys);
    double seconds = interval ? PyFloat_AsDouble(interval) : -1;
    Py_XDECREF(interval);
    if (seconds < 0 && PyErr_Occurred()) return -1;
    env->turn_limit_ns = (int64_t)(seconds * 10 * 1e9);
    return 0;
}

int rt_env_start(rt_env *env) {
    if (atomic_load(&rt_forked)) return rt_raise_closed(env);
    if (env->loop_thread_started) {
        PyErr_SetString(PyExc_RuntimeError, "the environment was already started");
        return -1;
    }
    rt_join_stopped(0);
    if (rt_set_turn_limit(env) < 0) return -1;
    env->starter = nl_self();
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
    tq_wake(env);
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
    nl_unpark_with_gil(env); /* this thread's V8 lock of env goes with it, not after */
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
