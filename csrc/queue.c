/* queue.c - the environment's task queue and wake-up handle (tq_).
 *
 * Work that must run on an environment's own thread goes there through its
 * `wake` uv_async handle: tasks (call_async, await, the settling of Promises
 * of Python futures) and the JS references that Python released while the
 * Node lock was busy. The queue and `wake_closed` are under `qmutex`, so any
 * thread may post, release or wake (uv_async_send) while the handle is open;
 * the loop thread (or a Node worker_thread, for its environment) runs them
 * with the Node lock held. Lock order: Node lock, then qmutex; nothing is
 * called with qmutex held but uv_async_send and uv_ref. */
#include "queue.h"

#include "nodelock.h"

#include <stdlib.h>

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

/* ---- tasks for the loop thread ---- */

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

/* Runs the queued tasks. Loop thread, Node lock held. */
static void tq_run_tasks(rt_env *env) {
    tq_task *t = tq_take_tasks(env);
    if (!t) return;
    /* One GIL acquisition for the batch (each task's own Ensure nests). When
     * Python is finalizing, no task can run or be cancelled: they are left. */
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return;
    while (t) {
        tq_task *next = t->next;
        if (atomic_load(&env->state) == RT_RUNNING)
            t->run(env, t);
        else
            t->cancel(env, t);
        t = next;
    }
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
