/* foreign.c - environments of Node's worker_threads (fe_).
 *
 * Node makes them, not us: a worker_thread that requires 'pymport' loads the
 * linked binding, and its environment becomes a "foreign" rt_env owned for
 * good by that thread, which holds its isolate (the Node lock) for its whole
 * life. No loop thread of ours runs it; its `wake` handle lives on the
 * worker's own loop so that tq_post and tq_release_ref work for it as for
 * ours. Every function here runs on the worker's thread. */
#include "foreign.h"

#include "async.h"
#include "calls.h"
#include "convert.h"
#include "nodelock.h"
#include "queue.h"

#include <stdlib.h>
#include <string.h>

/* Process-wide, set by the first environment: what the linked binding needs in
 * Node worker_threads, whose environments Node creates without us. The module
 * is borrowed: environments (and their workers) stop at exit before it dies. */
static PyObject *fe_module;
static char *fe_bootstrap;

void fe_remember(PyObject *module, const char *bootstrap) {
    if (fe_module) return;
    fe_module = module;
    fe_bootstrap = strdup(bootstrap);
}

/* `wake` of a worker_thread's environment has closed: the loop may end. */
static void fe_wake_closed(uv_handle_t *handle) {
    rt_env *env = handle->data;
    napi_remove_async_cleanup_hook(env->cleanup);
    PyGILState_STATE gil = PyGILState_Ensure();
    rt_env_decref(env);
    PyGILState_Release(gil);
}

/* The worker_thread's environment is being torn down (its thread): queued
 * work is cancelled, and `wake` closes before its loop does. */
static void fe_cleanup(napi_async_cleanup_hook_handle handle, void *data) {
    (void)handle;
    rt_env *env = data;
    tq_close(env);
    tq_forget_released(env); /* the environment's teardown deletes them all */
    cv_keys_free(env);
    uv_close((uv_handle_t *)&env->wake, fe_wake_closed);
}

/* Gives a worker_thread's environment its `wake` handle on the thread's own
 * loop (unreferenced until a promise holds it), so that tq_post and
 * tq_release_ref work for it as for ours. Its thread; GIL held. */
static int fe_wake_init(napi_env napi, rt_env *env) {
    uv_loop_t *loop;
    if (napi_get_uv_event_loop(napi, &loop) != napi_ok) return -1;
    if (uv_async_init(loop, &env->wake, tq_on_wake) != 0) return -1;
    env->loop = loop;
    env->wake.data = env;
    uv_unref((uv_handle_t *)&env->wake);
    rt_env_incref(env); /* dropped when `wake` has closed */
    if (napi_add_async_cleanup_hook(napi, fe_cleanup, env, &env->cleanup) != napi_ok) {
        fe_cleanup(NULL, env); /* closes it again */
        return -1;
    }
    tq_open(env);
    return 0;
}

/* The environment of a Node worker_thread went away (its thread). */
static void fe_finalize(napi_env napi, void *data, void *hint) {
    (void)napi;
    (void)hint;
    rt_env *env = data;
    atomic_store(&env->state, RT_STOPPING);
    as_fail_pending(env);
    PyGILState_STATE gil = PyGILState_Ensure();
    cl_drop_kept_of(env); /* its thread ends */
    atomic_store(&env->state, RT_DEAD);
    nl_unmark_mine(env);
    rt_env_decref(env);
    PyGILState_Release(gil);
}

/* A Node worker_thread loads the binding: its environment becomes a foreign
 * rt_env, owned for good by that thread (which holds its isolate throughout). */
rt_env *fe_register_worker(napi_env napi) {
    if (!fe_module || cp_is_finalizing()) return NULL;
    PyGILState_STATE gil = PyGILState_Ensure();
    rt_env *env = rt_env_alloc(fe_module, fe_bootstrap);
    if (env) {
        env->foreign = 1;
        nl_thread_self()->node_worker = 1;
        env->napi = napi;
        atomic_store(&env->state, RT_RUNNING);
        nl_mark_mine(env);
        if (napi_set_instance_data(napi, env, fe_finalize, NULL) != napi_ok) {
            nl_unmark_mine(env);
            rt_env_decref(env);
            env = NULL;
        } else if (fe_wake_init(napi, env) < 0) {
            env = NULL; /* the finalizer frees it with the environment */
        }
    } else {
        PyErr_Clear();
    }
    PyGILState_Release(gil);
    return env;
}
