/* share.c - Python objects sent between the threads of JavaScript without a
 * copy (sh_): the tokens behind pymport's share() and fromShared()
 * (js/share.js, docs/javascript.md#sharing-python-objects-between-threads).
 *
 * A PyObject cannot travel in a postMessage: structured clone copies data and
 * has no public hook for objects that embedders wrap. A token can: it is a
 * SharedArrayBuffer of length 0 (em_token_new) whose V8 backing store carries
 * an sh_token, which holds a strong reference to the Python object. Every
 * structured clone of a SharedArrayBuffer, in any isolate and in messages in
 * flight, shares that backing store, so V8 counts the token's copies across
 * threads for us: when the last one is gone (collected, or dropped with an
 * undelivered message or a terminated worker), V8 calls sh_release. Python's
 * objects are shared by every thread, so fromShared() in any environment
 * makes a PyObject of the same object.
 *
 * Threads and locks: the binding functions run on the JS thread of their
 * environment with its Node lock held and take the GIL (Node lock, then GIL).
 * sh_release runs on any thread with any locks held (V8 may call it from a
 * background thread while the JS thread waits for it in a GC, with the GIL
 * held): it takes only `sh_mutex`, a leaf lock held for a few pointer moves
 * and never across a call into V8 or Python, and hands the reference to the
 * releaser thread (started by the first share()), which holds no Node lock
 * and so may take the GIL to release it. (Py_AddPendingCall would not do: on
 * 3.11 a call added from another thread is not signalled to Python's main
 * thread, which runs it only once something else makes it look, which may be
 * never.)
 *
 * The state here is process-wide, as the backing stores are: a token outlives
 * the environment that made it and reaches every isolate (the module is
 * single-interpreter, module.h). */
#include "share.h"

#include "binding.h"
#include "errors.h"
#include "pyproxy.h"

#include <string.h>

typedef struct sh_token {
    PyObject *obj;         /* set once (GIL); strong, released by the releaser thread (GIL) */
    struct sh_token *next; /* sh_mutex: the link of sh_released */
} sh_token;

static pthread_mutex_t sh_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sh_cond = PTHREAD_COND_INITIALIZER; /* with sh_mutex: sh_released grew */
static tb_table sh_live;        /* sh_mutex: every token whose backing store lives, by address */
static sh_token *sh_released;   /* sh_mutex: tokens whose backing store is gone */
static int sh_releaser_started; /* sh_mutex: the releaser thread runs */

/* The releaser thread: releases the references of the tokens that V8 let
 * go of, with the GIL. It holds no Node lock, so it may wait for the GIL
 * (lock order). Runs until the process ends; stops once Python finalizes. */
static void *sh_releaser(void *unused) {
    (void)unused;
    pthread_mutex_lock(&sh_mutex);
    for (;;) {
        while (!sh_released) pthread_cond_wait(&sh_cond, &sh_mutex);
        sh_token *t = sh_released;
        sh_released = NULL;
        pthread_mutex_unlock(&sh_mutex);
        PyGILState_STATE gil;
        if (!cp_gil_ensure(&gil)) return NULL; /* the references go with the process */
        while (t) {
            sh_token *next = t->next;
            Py_DECREF(t->obj); /* may run a finalizer, which may share again */
            PyMem_RawFree(t);
            t = next;
        }
        PyGILState_Release(gil);
        pthread_mutex_lock(&sh_mutex);
    }
}

/* Starts the releaser thread unless it runs. GIL held. Returns 0, or -1 with
 * a Python exception. */
static int sh_start_releaser(void) {
    int rc = 0;
    pthread_mutex_lock(&sh_mutex);
    if (!sh_releaser_started) {
        pthread_t thread;
        pthread_attr_t attr;
        rc = pthread_attr_init(&attr);
        if (rc == 0) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            rc = pthread_create(&thread, &attr, sh_releaser, NULL);
            pthread_attr_destroy(&attr);
        }
        sh_releaser_started = rc == 0;
    }
    pthread_mutex_unlock(&sh_mutex);
    if (rc != 0) {
        PyErr_Format(PyExc_RuntimeError,
                     "cannot start the thread that releases shared Python objects: %s",
                     strerror(rc));
        return -1;
    }
    return 0;
}

/* The token's last copy is gone (em_token_release). Any thread, any locks
 * held; takes only sh_mutex. */
static void sh_release(void *data, size_t length, void *hint) {
    (void)length;
    (void)hint;
    sh_token *t = data;
    pthread_mutex_lock(&sh_mutex);
    tb_remove(&sh_live, (uintptr_t)t, t);
    t->next = sh_released;
    sh_released = t;
    pthread_cond_signal(&sh_cond);
    pthread_mutex_unlock(&sh_mutex);
}

/* binding.pyShare(obj): a new token for the Python object behind obj (a
 * PyObject, a function proxy or a proxify() Proxy). */
static napi_value sh_js_share(napi_env napi, napi_callback_info info) {
    rt_env *env = bd_env_of(napi);
    size_t argc = 1;
    napi_value arg, out = NULL;
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, &arg, NULL, NULL));
    napi_valuetype type = napi_undefined;
    if (argc >= 1) JS_TRY(napi, napi_typeof(napi, arg, &type));
    /* borrowed: arg keeps it alive */
    PyObject *obj = type == napi_object || type == napi_function ? pyp_unwrap(env, arg) : NULL;
    if (!obj) {
        napi_throw_type_error(napi, NULL, "share() takes a PyObject (or a proxified one)");
        return NULL;
    }
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) {
        napi_throw_error(napi, NULL, "the Python interpreter is shutting down");
        return NULL;
    }
    if (sh_start_releaser() < 0) {
        er_throw_to_js(env);
        PyGILState_Release(gil);
        return NULL;
    }
    sh_token *t = PyMem_RawCalloc(1, sizeof *t);
    int added = -1;
    if (t) {
        t->obj = Py_NewRef(obj);
        pthread_mutex_lock(&sh_mutex);
        added = tb_insert(&sh_live, (uintptr_t)t, t);
        pthread_mutex_unlock(&sh_mutex);
    }
    /* From a successful em_token_new on, V8 owns t and calls sh_release. */
    if (added < 0 || em_token_new(t, sh_release, NULL, &out) < 0) {
        if (added == 0) {
            pthread_mutex_lock(&sh_mutex);
            tb_remove(&sh_live, (uintptr_t)t, t);
            pthread_mutex_unlock(&sh_mutex);
        }
        if (t) Py_DECREF(t->obj);
        PyMem_RawFree(t);
        out = NULL;
        napi_throw_error(napi, NULL, "out of memory");
    }
    PyGILState_Release(gil);
    return out;
js_error:
    return NULL;
}

/* binding.pyFromShared(buffer): a PyObject of the token's Python object,
 * when buffer is a token's SharedArrayBuffer (it keeps the token alive for
 * the call). */
static napi_value sh_js_from_shared(napi_env napi, napi_callback_info info) {
    rt_env *env = bd_env_of(napi);
    size_t argc = 1;
    napi_value arg, out = NULL;
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, &arg, NULL, NULL));
    void *data = argc >= 1 ? em_token_data(arg) : NULL;
    sh_token *t = NULL;
    if (data) {
        pthread_mutex_lock(&sh_mutex);
        tb_entry *e = tb_first(&sh_live, (uintptr_t)data);
        t = e ? e->value : NULL;
        pthread_mutex_unlock(&sh_mutex);
    }
    if (!t) {
        napi_throw_type_error(napi, NULL, "fromShared() takes a token that share() made");
        return NULL;
    }
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) {
        napi_throw_error(napi, NULL, "the Python interpreter is shutting down");
        return NULL;
    }
    if (pyp_wrap_as(env, t->obj, PYP_OBJECT, &out) < 0) {
        out = NULL;
        er_throw_to_js(env);
    }
    PyGILState_Release(gil);
    return out;
js_error:
    return NULL;
}

napi_status sh_define_binding(napi_env napi, napi_value exports) {
    napi_property_descriptor props[] = {
        {"pyShare", NULL, sh_js_share, NULL, NULL, NULL, napi_default, NULL},
        {"pyFromShared", NULL, sh_js_from_shared, NULL, NULL, NULL, napi_default, NULL},
    };
    return napi_define_properties(napi, exports, sizeof props / sizeof props[0], props);
}
