/* queue.c - the environment's task queue and wake-up handle (tq_).
 *
 * Work that must run on an environment's own thread goes there through its
 * `wake` uv_async handle: tasks (call_async, await, the settling of Promises
 * of Python futures) and the JS references that Python released while the
 * Node lock was busy. The queue and `wake_closed` are under `qmutex`, so any
 * thread may post, release or wake (uv_async_send) while the handle is open;
 * the loop thread (or a Node worker_thread, for its environment) runs them
 * with the Node lock held. Lock order: Node lock, then qmutex; nothing is
 * called with qmutex held but uv_async_send and uv_ref.
 *
 * Threads that wait for a JSFuture sleep on one process-wide condition
 * variable (tq_wait_settled), woken when a future they wait for is done and
 * when a batch of tasks ends; `tq_wait_mutex` is taken with no other lock
 * held, or with the Node lock and the GIL (tq_note_settled), and nothing is
 * called under it but the condition variable's functions. */
#include "queue.h"

#include "nodelock.h"

#include <stdlib.h>
#include <time.h>

/* ---- releasing references from any thread ---- */

void tq_drain_released(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    napi_ref *refs = env->released;
    size_t n = env->nreleased;
    env->released = NULL;
    env->nreleased = env->released_cap = 0;
    pthread_mutex_unlock(&env->qmutex);
    for (size_t i = 0; i < n; i++) napi_delete_reference(env->napi, refs[i]);
    free(refs);
}

void tq_release_ref(rt_env *env, napi_ref ref) {
    /* A forked child has Node's memory but none of its threads: entering the
     * isolate there crashes. What the proxies held goes with the process. */
    if (!ref || rt_is_forked_child() || atomic_load(&env->state) == RT_DEAD) return;
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
            nl_thread *me = nl_thread_self();
            int guard = nl_v8_guard_begin(me, env);
            em_scope_enter(env->setup, &scope);
            napi_delete_reference(env->napi, ref);
            em_scope_exit(&scope);
            nl_v8_guard_end(me, guard);
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

/* ---- posting tasks ---- */

int tq_post(rt_env *env, tq_task *task) {
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
static tq_task *tq_take_tasks(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    tq_task *t = env->tasks_head;
    env->tasks_head = env->tasks_tail = NULL;
    pthread_mutex_unlock(&env->qmutex);
    return t;
}

/* ---- threads waiting for a future ---- */

/* How long a waiter whose future (or another waited one) is done goes on
 * waiting while a batch of tasks makes progress, and how long a task may
 * take before the batch counts as stalled (a long call: the waiter goes). */
#define TQ_BATCH_WAIT_NS 2000000L
#define TQ_STALL_NS 100000L

static pthread_mutex_t tq_wait_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tq_wait_cond;      /* CLOCK_MONOTONIC, made once (tq_wait_init) */
static pthread_once_t tq_wait_once = PTHREAD_ONCE_INIT;
static _Atomic int tq_waiters;           /* threads in tq_wait_settled */
static _Atomic unsigned tq_settled;      /* futures done that a thread waited for */

static void tq_wait_init(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&tq_wait_cond, &attr);
    pthread_condattr_destroy(&attr);
}

/* Wakes every waiter, if there are any. */
static void tq_wake_waiters(void) {
    if (!atomic_load(&tq_waiters)) return;
    pthread_mutex_lock(&tq_wait_mutex);
    pthread_cond_broadcast(&tq_wait_cond);
    pthread_mutex_unlock(&tq_wait_mutex);
}

unsigned tq_settled_count(void) { return atomic_load(&tq_settled); }

void tq_note_settled(void) {
    atomic_fetch_add(&tq_settled, 1);
    tq_wake_waiters();
}

/* Waits on tq_wait_cond until `until_ns` at the latest. tq_wait_mutex held. */
static void tq_timedwait(int64_t until_ns) {
    struct timespec ts = {.tv_sec = (time_t)(until_ns / 1000000000),
                          .tv_nsec = (long)(until_ns % 1000000000)};
    pthread_cond_timedwait(&tq_wait_cond, &tq_wait_mutex, &ts);
}

void tq_wait_settled(rt_env *env, unsigned seen, int64_t until_ns) {
    pthread_once(&tq_wait_once, tq_wait_init);
    pthread_mutex_lock(&tq_wait_mutex);
    atomic_fetch_add(&tq_waiters, 1);
    int64_t now;
    while (atomic_load(&tq_settled) == seen && (now = rt_now_ns()) < until_ns)
        tq_timedwait(until_ns);
    now = rt_now_ns();
    int64_t cap = now + TQ_BATCH_WAIT_NS < until_ns ? now + TQ_BATCH_WAIT_NS : until_ns;
    unsigned progress = atomic_load(&env->batch_progress);
    int64_t moved = now;
    while (atomic_load(&env->batch_running) && now < cap && now - moved < TQ_STALL_NS) {
        tq_timedwait(now + TQ_STALL_NS < cap ? now + TQ_STALL_NS : cap);
        now = rt_now_ns();
        unsigned p = atomic_load(&env->batch_progress);
        if (p != progress) {
            progress = p;
            moved = now;
        }
    }
    atomic_fetch_sub(&tq_waiters, 1);
    pthread_mutex_unlock(&tq_wait_mutex);
}

/* ---- tasks for the loop thread ---- */

/* Runs the queued tasks. Loop thread, Node lock held. */
static void tq_run_tasks(rt_env *env) {
    tq_task *t = tq_take_tasks(env);
    if (!t) return;
    /* One GIL acquisition for the batch (each task's own Ensure nests). When
     * Python is finalizing, no task can run or be cancelled: they are left. */
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return;
    atomic_store(&env->batch_running, 1);
    while (t) {
        tq_task *next = t->next;
        if (atomic_load(&env->state) == RT_RUNNING)
            t->run(env, t);
        else
            t->cancel(env, t);
        atomic_fetch_add_explicit(&env->batch_progress, 1, memory_order_relaxed);
        t = next;
    }
    atomic_store(&env->batch_running, 0);
    tq_wake_waiters(); /* those waiting for the batch to end */
    PyGILState_Release(gil);
}

void tq_close(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    env->wake_closed = 1;
    pthread_mutex_unlock(&env->qmutex);
    for (tq_task *t = tq_take_tasks(env), *next; t; t = next) {
        next = t->next;
        t->cancel(env, t);
    }
}

void tq_on_wake(uv_async_t *handle) {
    rt_env *env = handle->data;
    if (atomic_load(&env->state) == RT_RUNNING) tq_drain_released(env);
    tq_run_tasks(env);
    if (env->foreign && atomic_load(&env->holds) == 0) uv_unref((uv_handle_t *)&env->wake);
}

/* ---- waking the loop thread ---- */

void tq_open(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    env->wake_closed = 0;
    pthread_mutex_unlock(&env->qmutex);
}

void tq_wake(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    if (!env->wake_closed) uv_async_send(&env->wake);
    pthread_mutex_unlock(&env->qmutex);
}

void tq_forget_released(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    free(env->released);
    env->released = NULL;
    env->nreleased = env->released_cap = 0;
    pthread_mutex_unlock(&env->qmutex);
}

/* ---- holds: pending work that keeps the environment busy ---- */

void tq_hold(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    if (!env->wake_closed && atomic_fetch_add(&env->holds, 1) == 0 && env->foreign)
        uv_ref((uv_handle_t *)&env->wake);
    pthread_mutex_unlock(&env->qmutex);
}

void tq_unhold(rt_env *env) {
    pthread_mutex_lock(&env->qmutex);
    /* The last one: a worker's thread unrefs `wake` (libuv handles are its own). */
    if (!env->wake_closed && atomic_fetch_sub(&env->holds, 1) == 1 && env->foreign)
        uv_async_send(&env->wake);
    pthread_mutex_unlock(&env->qmutex);
}

int tq_loop_busy(rt_env *env) {
    if (atomic_load(&env->holds) > 0 || env->drain_pending) return 1;
    if (env->foreign) return uv_loop_alive(env->loop);
    /* `wake` always keeps our loops alive (see rt_loop_main): ask without it. */
    uv_unref((uv_handle_t *)&env->wake);
    int alive = uv_loop_alive(env->loop);
    uv_ref((uv_handle_t *)&env->wake);
    return alive;
}
