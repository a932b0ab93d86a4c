/* async.c - futures, promises and call_async (DESIGN.md section 7).
 *
 * JS -> Python: call_async and `await js_object` hand their work to the
 * environment's loop thread (tq_post), so the calling thread (often an asyncio
 * loop) never waits for the Node lock; a JSFuture is settled there, or by the
 * then-callbacks of a returned promise. Futures still waiting when the
 * environment closes fail with EnvironmentClosed (as_fail_pending).
 * Python -> JS: an awaitable becomes a Promise whose deferred is settled on the
 * loop thread when the awaitable's concurrent future is done.
 *
 * A JSFuture keeps concurrent.futures.Future's state in its instance dict and
 * makes the base class's lock and lists only when something needs them
 * (_futures.JSFuture). While it has no lock, the functions here read and
 * settle it with the GIL alone, running no Python code between a check and
 * the change it decides (so no other thread sees half of it); once it has
 * one, they call the base class's methods, which take it. */
#include "async.h"

#include "calls.h"
#include "convert.h"
#include "errors.h"
#include "jsproxy.h"
#include "nodelock.h"
#include "pyproxy.h"
#include "queue.h"

#include <math.h>

/* ---- JSFuture: concurrent.futures.Future's state, read and set here ---- */

/* The states of concurrent.futures, in mod_state.future_states. */
typedef enum {
    AS_PENDING,
    AS_RUNNING,
    AS_CANCELLED,
    AS_CANCELLED_AND_NOTIFIED,
    AS_FINISHED,
} as_state;

static int as_is_jsfuture(mod_state *st, PyObject *obj) {
    return st->JSFuture && PyObject_TypeCheck(obj, (PyTypeObject *)st->JSFuture);
}

/* Borrowed: the value of `key` in the future's dict d, or NULL. GIL held;
 * runs no Python code (the keys are exact str). */
static PyObject *as_get(PyObject *d, PyObject *key) {
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (!v) PyErr_Clear();
    return v;
}

static as_state as_state_in(mod_state *st, PyObject *d) {
    PyObject *state = as_get(d, st->key_state);
    if (!state) return AS_PENDING; /* the class attribute */
    for (int i = 0; i < 5; i++)
        if (state == st->future_states[i]) return (as_state)i;
    for (int i = 0; i < 5; i++) /* an equal str set by other code */
        if (PyUnicode_Check(state) && PyUnicode_Compare(state, st->future_states[i]) == 0)
            return (as_state)i;
    return AS_PENDING;
}

static int as_state_done(as_state state) { return state >= AS_CANCELLED; }

/* Returns a new reference: the future's instance dict, or NULL with an
 * exception. */
static PyObject *as_dict_of(PyObject *future) { return PyObject_GenericGetDict(future, NULL); }

/* Returns a new reference: a pending JSFuture that `source` (a JSObject, or
 * NULL) settles. Runs no __init__: the future has only a dict. GIL held. */
static PyObject *as_future_new(mod_state *st, PyObject *source) {
    PyTypeObject *type = (PyTypeObject *)st->JSFuture;
    PyObject *noargs = PyTuple_New(0), *future = NULL, *d = NULL;
    if (!noargs || !(future = type->tp_new(type, noargs, NULL))) goto error;
    if (source && (!(d = as_dict_of(future)) || PyDict_SetItem(d, st->key_source, source) < 0))
        goto error;
    Py_XDECREF(d);
    Py_DECREF(noargs);
    return future;
error:
    Py_XDECREF(d);
    Py_XDECREF(noargs);
    Py_XDECREF(future);
    return NULL;
}

/* Runs the done callbacks of a future that just became done (the base
 * class's _invoke_callbacks, which logs what they raise), if it has any.
 * Returns 0, or -1 with an exception (one a callback let through). */
static int as_invoke_callbacks(mod_state *st, PyObject *future, PyObject *d) {
    PyObject *callbacks = as_get(d, st->key_callbacks);
    if (!callbacks || (PyList_Check(callbacks) && PyList_GET_SIZE(callbacks) == 0)) return 0;
    PyObject *r = PyObject_CallMethod(future, "_invoke_callbacks", NULL);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* The future whose dict is d just became done: wakes the threads that wait
 * for it in C (as_wait_done marks it). */
static void as_note_done(mod_state *st, PyObject *d) {
    if (as_get(d, st->key_waited)) tq_note_settled();
}

/* Settles `future` with value, or with the exception exc when value is NULL
 * (both borrowed), and runs its done callbacks. Returns 1, 0 when it was done
 * already (cancelled meanwhile: the outcome is dropped), or -1 with an
 * exception. Any future; GIL held. */
static int as_future_settle(mod_state *st, PyObject *future, PyObject *value, PyObject *exc) {
    const char *name = value ? "set_result" : "set_exception";
    PyObject *outcome = value ? value : exc, *r;
    if (!as_is_jsfuture(st, future)) {
        r = PyObject_CallMethod(future, name, "(O)", outcome);
    } else {
        PyObject *d = as_dict_of(future);
        if (!d) return -1;
        int rc = -1;
        if (!as_get(d, st->key_condition)) {
            if (as_state_done(as_state_in(st, d))) {
                rc = 0;
            } else if (PyDict_SetItem(d, value ? st->key_result : st->key_exception, outcome) == 0 &&
                       PyDict_SetItem(d, st->key_state, st->future_states[AS_FINISHED]) == 0) {
                as_note_done(st, d);
                rc = as_invoke_callbacks(st, future, d) < 0 ? -1 : 1;
            }
            Py_DECREF(d);
            return rc;
        }
        /* With its lock made: the base class's method, which takes it. */
        r = PyObject_CallMethod(st->ConcurrentFuture, name, "OO", future, outcome);
        if (r) as_note_done(st, d);
        Py_DECREF(d);
    }
    if (r) {
        Py_DECREF(r);
        return 1;
    }
    /* InvalidStateError when it is done already: asked with the error put
     * aside (no call may run with an exception set). */
    PyObject *failed = cp_err_take();
    PyObject *done = PyObject_CallMethod(future, "done", NULL);
    int rc = done == Py_True ? 0 : -1;
    if (!done) {
        Py_XDECREF(failed); /* done()'s own error instead */
    } else {
        Py_DECREF(done);
        if (rc == 0) Py_XDECREF(failed);
        else cp_err_restore(failed);
    }
    return rc;
}

/* The base class's set_running_or_notify_cancel: 1 when the future was
 * pending (now running), 0 when it was cancelled, -1 with an exception. */
static int as_future_set_running(mod_state *st, PyObject *future) {
    PyObject *d = as_dict_of(future);
    if (!d) return -1;
    int rc = -1;
    if (!as_get(d, st->key_condition)) {
        /* With no lock, no waiter (wait(), as_completed()) was installed. */
        as_state state = as_state_in(st, d);
        if (state == AS_PENDING || state == AS_CANCELLED) {
            int running = state == AS_PENDING;
            PyObject *next = st->future_states[running ? AS_RUNNING : AS_CANCELLED_AND_NOTIFIED];
            rc = PyDict_SetItem(d, st->key_state, next) < 0 ? -1 : running;
            Py_DECREF(d);
            return rc;
        }
    }
    Py_DECREF(d);
    PyObject *r =
        PyObject_CallMethod(st->ConcurrentFuture, "set_running_or_notify_cancel", "O", future);
    if (r) rc = r == Py_True;
    Py_XDECREF(r);
    return rc;
}

/* Returns a new reference: the done future's result, or NULL with its
 * exception raised from here, so that its traceback starts at the frame
 * that waited rather than in concurrent.futures; CancelledError when it was
 * cancelled. */
static PyObject *as_outcome(mod_state *st, PyObject *future) {
    PyObject *d = as_dict_of(future);
    if (!d) return NULL;
    PyObject *res = NULL;
    if (as_state_in(st, d) == AS_FINISHED) {
        PyObject *exc = as_get(d, st->key_exception);
        if (exc && exc != Py_None) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        } else {
            res = as_get(d, st->key_result);
            res = Py_NewRef(res ? res : Py_None);
        }
    } else {
        PyErr_SetNone(st->CancelledError);
    }
    Py_DECREF(d);
    return res;
}

/* 1 if the JSFuture is done, 0 if not, -1 with an exception. */
static int as_is_done(mod_state *st, PyObject *future) {
    PyObject *d = as_dict_of(future);
    if (!d) return -1;
    int done = as_state_done(as_state_in(st, d));
    Py_DECREF(d);
    return done;
}

/* ---- futures waiting for a promise ---- */

/* Returns a new pending entry for `future` (borrowed, gets a new reference),
 * listed on env. GIL held. */
static as_pending *as_pending_new(rt_env *env, PyObject *future) {
    as_pending *p = PyMem_RawCalloc(1, sizeof *p);
    if (!p) return (as_pending *)PyErr_NoMemory();
    p->future = Py_NewRef(future);
    p->env = env;
    atomic_store(&p->refs, 1);
    p->next = env->pending;
    if (env->pending) env->pending->prev = p;
    env->pending = p;
    return p;
}

static void as_pending_unref(as_pending *p) {
    if (atomic_fetch_sub(&p->refs, 1) == 1) PyMem_RawFree(p);
}

static void as_pending_settle(as_pending *p, PyObject *value, PyObject *exc);

/* Settles the future with `value` or, when value is NULL, with the exception
 * `exc` (both borrowed), unlists it and drops the list's share of p (which may
 * free it). A cancelled future ignores the outcome. GIL held. */
static void as_pending_settle(as_pending *p, PyObject *value, PyObject *exc) {
    if (!p->future) return;
    if (as_future_settle(rt_state_of(p->env), p->future, value, exc) < 0)
        PyErr_Clear(); /* raised by a done callback, which nobody can report to */
    Py_CLEAR(p->future);
    if (p->prev) p->prev->next = p->next;
    else if (p->env->pending == p) p->env->pending = p->next;
    if (p->next) p->next->prev = p->prev;
    p->prev = p->next = NULL;
    as_pending_unref(p);
}

/* Settles the future with the current Python exception (cleared). GIL held. */
static void as_pending_fail(as_pending *p) {
    PyObject *value = er_take();
    if (!value) value = Py_NewRef(PyExc_RuntimeError); /* settle it whatever happens */
    as_pending_settle(p, NULL, value);
    Py_DECREF(value);
}

static void as_settle_finalize(napi_env napi, void *data, void *hint) {
    (void)napi;
    (void)hint;
    as_pending_unref(data);
}

/* The then-callbacks. JS thread, Node lock held; they take the GIL. */
static napi_value as_on_settled(napi_env napi, napi_callback_info info, int fulfilled) {
    size_t argc = 1;
    napi_value arg = NULL;
    void *data = NULL;
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, &arg, NULL, &data));
    as_pending *p = data;
    if (argc < 1) JS_TRY(napi, napi_get_undefined(napi, &arg));
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return NULL; /* nobody can read the outcome any more */
    if (p->future) {
        if (fulfilled) {
            PyObject *value = cv_to_py(p->env, arg);
            if (value) as_pending_settle(p, value, NULL);
            else as_pending_fail(p);
            Py_XDECREF(value);
        } else {
            er_from_js(p->env, arg);
            as_pending_fail(p);
        }
    }
    PyGILState_Release(gil);
js_error:
    return NULL;
}

static napi_value as_on_fulfilled(napi_env napi, napi_callback_info info) {
    return as_on_settled(napi, info, 1);
}

static napi_value as_on_rejected(napi_env napi, napi_callback_info info) {
    return as_on_settled(napi, info, 0);
}

as_pending *as_settle_functions(rt_env *env, PyObject *future, napi_value fns[2]) {
    as_pending *p = as_pending_new(env, future);
    if (!p) return NULL;
    napi_callback cbs[2] = {as_on_fulfilled, as_on_rejected};
    for (int i = 0; i < 2; i++) {
        NAPI_OK(env, napi_create_function(env->napi, "settle", NAPI_AUTO_LENGTH, cbs[i], p, &fns[i]));
        atomic_fetch_add(&p->refs, 1);
        napi_status status = napi_add_finalizer(env->napi, fns[i], p, as_settle_finalize, NULL, NULL);
        if (status != napi_ok) atomic_fetch_sub(&p->refs, 1);
        NAPI_OK(env, status);
    }
    return p;
error:
    as_pending_fail(p);
    return NULL;
}

void as_pending_drop(as_pending *p) {
    PyObject *saved = cp_err_take(); /* keep the caller's exception */
    PyObject *cancelled = Py_NewRef(PyExc_RuntimeError);
    as_pending_settle(p, NULL, cancelled);
    Py_DECREF(cancelled);
    cp_err_restore(saved);
}

/* Settles `future` with the outcome of the promise or thenable v. Node lock
 * and GIL held. A failure goes into the future. */
static void as_attach(rt_env *env, napi_value v, PyObject *future) {
    napi_value args[3] = {v, NULL, NULL}, ignored;
    as_pending *p = as_settle_functions(env, future, &args[1]);
    if (!p) return;
    napi_status status = cl_call_helper(env, RT_H_SETTLE, 3, args, &ignored);
    if (status != napi_ok) {
        er_from_status(env, status);
        as_pending_fail(p);
    }
}

/* Raises RuntimeError when the calling thread is inside a call from env's JS:
 * only env's own threads can settle what waits on env, and they wait for this
 * thread. Returns 0 or -1. */
static int as_may_wait(rt_env *env) {
    if (nl_holds_turn(env)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot block on a JavaScript Promise or a call_async result inside "
                        "pymport_py.turn() of the same environment (its loop thread runs nothing "
                        "until the block ends); wait after the block");
        return -1;
    }
    if (!nl_is_mine(env)) return 0;
    PyErr_SetString(PyExc_RuntimeError,
                    "cannot block on a JavaScript Promise or a call_async result inside a call "
                    "from JavaScript of the same environment (it could never settle: the "
                    "environment waits for this call to return); await it, or use "
                    "add_done_callback");
    return -1;
}

/* Borrowed: the JSObject whose environment settles the JSFuture, or NULL. */
static PyObject *as_source_of(mod_state *st, PyObject *future) {
    PyObject *d = as_dict_of(future);
    if (!d) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *source = as_get(d, st->key_source);
    Py_DECREF(d);
    return source && jsp_check(st, source) ? source : NULL; /* the dict holds it */
}

int as_announce_wait(rt_env *env, PyObject *future) {
    int done = as_is_done(rt_state_of(env), future);
    if (done == 0) nl_python_will_wait(env);
    return done;
}

int as_parse_timeout(PyObject *obj, double *out) {
    double timeout = PyFloat_AsDouble(obj);
    if (timeout == -1 && PyErr_Occurred()) return -1;
    if (isnan(timeout)) {
        PyErr_SetString(PyExc_ValueError, "timeout must be a number of seconds or None, not nan");
        return -1;
    }
    *out = isinf(timeout) && timeout > 0 ? -1 : timeout < 0 ? 0 : timeout;
    return 0;
}

/* Waits until the JSFuture is done (timeout < 0: no limit). Returns 0, or -1
 * with TimeoutError, RuntimeError (as_may_wait) or what a signal handler
 * raised. GIL held. */
static int as_wait_done(mod_state *st, rt_env *env, PyObject *future, double timeout) {
    int done = as_is_done(st, future);
    if (done != 0) return done < 0 ? -1 : 0;
    /* The wait goes in slices, so that signals (Ctrl-C,
     * _thread.interrupt_main) are seen while waiting. */
    if (!env) {
        /* No environment known: the base class waits on the future's lock
         * (made now) with the GIL released. */
        double left = timeout;
        for (;;) {
            double slice = left >= 0 && left < 0.05 ? left : 0.05;
            PyObject *exc = PyObject_CallMethod(st->ConcurrentFuture, "exception", "Od", future, slice);
            if (exc) {
                Py_DECREF(exc);
                return 0;
            }
            if (PyErr_ExceptionMatches(st->CancelledError)) {
                PyErr_Clear();
                return 0;
            }
            if (!PyErr_ExceptionMatches(PyExc_TimeoutError)) return -1;
            /* No Python code may run with an exception set: from 3.12 on, a
             * `with` block entered that way keeps the future's lock forever. */
            PyErr_Clear();
            if (PyErr_CheckSignals() < 0) return -1;
            if (left >= 0 && (left -= slice) <= 0) break;
        }
        PyErr_SetString(PyExc_TimeoutError, "the JavaScript Promise did not settle in time");
        return -1;
    }
    if (as_may_wait(env) < 0) return -1;
    nl_python_will_wait(env);
    PyObject *d = as_dict_of(future);
    if (!d) return -1;
    /* Marked, the future wakes this thread when it is done (as_note_done),
     * and the wait takes the GIL back once per batch of env's tasks
     * (tq_wait_settled), without making the future's lock. */
    int rc = PyDict_SetItem(d, st->key_waited, Py_True);
    /* More than 30 years: no limit (the clock would overflow). */
    int64_t end = timeout < 0 || timeout > 1e9 ? -1 : rt_now_ns() + (int64_t)(timeout * 1e9);
    while (rc == 0) {
        unsigned seen = tq_settled_count();
        if (as_state_done(as_state_in(st, d))) break;
        int64_t now = rt_now_ns(), until = now + 50000000;
        if (PyErr_CheckSignals() < 0) {
            rc = -1;
        } else if (end >= 0 && now >= end) {
            PyErr_SetString(PyExc_TimeoutError, "the JavaScript Promise did not settle in time");
            rc = -1;
        } else {
            if (end >= 0 && until > end) until = end;
            Py_BEGIN_ALLOW_THREADS
            tq_wait_settled(env, seen, until);
            Py_END_ALLOW_THREADS
        }
    }
    Py_DECREF(d);
    return rc;
}

PyObject *as_wait(mod_state *st, rt_env *env, PyObject *future, double timeout) {
    if (as_wait_done(st, env, future, timeout) < 0) return NULL;
    return as_outcome(st, future);
}

/* result(timeout=None) and exception(timeout=None): the future and the
 * timeout (-1: none) from the arguments of a JSFuture method. Returns 0 or
 * -1 with TypeError. */
static int as_parse_wait_args(mod_state *st, const char *name, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames, PyObject **future,
                              double *timeout) {
    PyObject *timeout_obj = Py_None;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs + nkw > 2 || !as_is_jsfuture(st, args[0])) goto bad;
    if (nargs == 2) timeout_obj = args[1];
    if (nkw == 1) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, 0);
        if (!PyUnicode_Check(kw) || PyUnicode_CompareWithASCIIString(kw, "timeout") != 0) goto bad;
        timeout_obj = args[nargs];
    }
    *future = args[0];
    *timeout = -1;
    return timeout_obj == Py_None ? 0 : as_parse_timeout(timeout_obj, timeout);
bad:
    PyErr_Format(PyExc_TypeError, "%s() takes at most one argument, timeout", name);
    return -1;
}

PyObject *as_future_result(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
    mod_state *st = mod_get_state(module);
    PyObject *future;
    double timeout;
    if (as_parse_wait_args(st, "result", args, nargs, kwnames, &future, &timeout) < 0) return NULL;
    PyObject *source = as_source_of(st, future);
    return as_wait(st, source ? ((jsp_object *)source)->env : NULL, future, timeout);
}

/* JSFuture.exception(self, timeout=None): as the base class's, with the
 * checks of result(). */
static PyObject *as_future_exception(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames) {
    mod_state *st = mod_get_state(module);
    PyObject *future;
    double timeout;
    if (as_parse_wait_args(st, "exception", args, nargs, kwnames, &future, &timeout) < 0)
        return NULL;
    PyObject *source = as_source_of(st, future);
    rt_env *env = source ? ((jsp_object *)source)->env : NULL;
    if (as_wait_done(st, env, future, timeout) < 0) return NULL;
    PyObject *d = as_dict_of(future);
    if (!d) return NULL;
    PyObject *exc = NULL;
    if (as_state_in(st, d) == AS_FINISHED) {
        exc = as_get(d, st->key_exception);
        exc = Py_NewRef(exc ? exc : Py_None);
    } else {
        PyErr_SetNone(st->CancelledError);
    }
    Py_DECREF(d);
    return exc;
}

/* The JSFuture methods that only read or change its state: done(),
 * cancelled(), running(), cancel(), add_done_callback(fn), set_result(value)
 * and set_exception(exc). With no lock made they work on the dict directly;
 * else they are the base class's. */
typedef enum {
    AS_M_DONE,
    AS_M_CANCELLED,
    AS_M_RUNNING,
    AS_M_CANCEL,
    AS_M_ADD_DONE_CALLBACK,
    AS_M_SET_RESULT,
    AS_M_SET_EXCEPTION,
} as_method;

/* Returns a new reference: what method m (one of the first five) gives for
 * the future whose dict is d, read or done on the dict; or NULL with no
 * exception when the base class's method must do it (the lock is made, or
 * fn is for a done future, which the base class calls at once), or NULL
 * with an exception. `arg`: add_done_callback's fn. */
static PyObject *as_future_state_method(mod_state *st, as_method m, PyObject *future,
                                        PyObject *d, PyObject *arg) {
    PyObject *res = NULL, *made = NULL;
    /* A new list for the first done callback is made before the state is
     * read: an allocation may collect garbage, whose finalizers may let
     * another thread settle the future. */
    if (m == AS_M_ADD_DONE_CALLBACK && !as_get(d, st->key_callbacks) && !(made = PyList_New(0)))
        return NULL;
    as_state state = as_state_in(st, d);
    int lock = as_get(d, st->key_condition) != NULL;
    int cancelled = state == AS_CANCELLED || state == AS_CANCELLED_AND_NOTIFIED;
    switch (m) {
    case AS_M_DONE:
        return PyBool_FromLong(as_state_done(state));
    case AS_M_CANCELLED:
        return PyBool_FromLong(cancelled);
    case AS_M_RUNNING:
        return PyBool_FromLong(state == AS_RUNNING);
    case AS_M_CANCEL:
        if (lock) return NULL;
        if (state != AS_PENDING) return PyBool_FromLong(cancelled);
        if (PyDict_SetItem(d, st->key_state, st->future_states[AS_CANCELLED]) < 0) return NULL;
        as_note_done(st, d);
        return as_invoke_callbacks(st, future, d) < 0 ? NULL : Py_NewRef(Py_True);
    case AS_M_ADD_DONE_CALLBACK: {
        PyObject *callbacks = made ? made : as_get(d, st->key_callbacks);
        if (!lock && !as_state_done(state) && PyList_Check(callbacks)) {
            /* A list holds its items in memory of its own (no garbage
             * collection): nothing runs between the check and the append. */
            if (PyList_Append(callbacks, arg) == 0 &&
                (!made || PyDict_SetItem(d, st->key_callbacks, made) == 0))
                res = Py_NewRef(Py_None);
        }
        Py_XDECREF(made);
        return res;
    }
    default:
        return NULL;
    }
}

static PyObject *as_future_method(mod_state *st, as_method m, PyObject *const *args,
                                  Py_ssize_t nargs) {
    static const char *const names[] = {"done", "cancelled", "running", "cancel",
                                        "add_done_callback", "set_result", "set_exception"};
    Py_ssize_t want = m >= AS_M_ADD_DONE_CALLBACK ? 2 : 1;
    if (nargs != want || !as_is_jsfuture(st, args[0])) {
        PyErr_Format(PyExc_TypeError, "%s() takes %s", names[m],
                     want == 2 ? "exactly one argument" : "no arguments");
        return NULL;
    }
    PyObject *future = args[0], *res, *d;
    if (m == AS_M_SET_RESULT || m == AS_M_SET_EXCEPTION) {
        int rc = m == AS_M_SET_RESULT ? as_future_settle(st, future, args[1], NULL)
                                      : as_future_settle(st, future, NULL, args[1]);
        if (rc != 0) return rc < 0 ? NULL : Py_NewRef(Py_None);
        /* Done already: the base class's method raises InvalidStateError. */
    } else {
        if (!(d = as_dict_of(future))) return NULL;
        res = as_future_state_method(st, m, future, d, nargs > 1 ? args[1] : NULL);
        Py_DECREF(d);
        if (res || PyErr_Occurred()) return res;
    }
    PyObject *base = PyObject_GetAttrString(st->ConcurrentFuture, names[m]);
    res = base ? PyObject_Vectorcall(base, args, (size_t)nargs, NULL) : NULL;
    Py_XDECREF(base);
    if (m == AS_M_CANCEL && res == Py_True && (d = as_dict_of(future))) {
        as_note_done(st, d);
        Py_DECREF(d);
    }
    return res;
}

#define AS_METHOD(name, m)                                                                     \
    static PyObject *name(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {         \
        return as_future_method(mod_get_state(module), m, args, nargs);                        \
    }
AS_METHOD(as_future_done, AS_M_DONE)
AS_METHOD(as_future_cancelled, AS_M_CANCELLED)
AS_METHOD(as_future_running, AS_M_RUNNING)
AS_METHOD(as_future_cancel, AS_M_CANCEL)
AS_METHOD(as_future_add_done_callback, AS_M_ADD_DONE_CALLBACK)
AS_METHOD(as_future_set_result, AS_M_SET_RESULT)
AS_METHOD(as_future_set_exception, AS_M_SET_EXCEPTION)

/* The JSFuture methods in C. */
static PyMethodDef as_future_methods[] = {
    {"result", (PyCFunction)(void (*)(void))as_future_result, METH_FASTCALL | METH_KEYWORDS,
     "result(self, /, timeout=None)\n--\n\nAs concurrent.futures.Future.result; raises "
     "RuntimeError instead of waiting forever inside a call from the JavaScript of the "
     "environment that settles it (a Python callback, timer or done-callback of that "
     "environment)."},
    {"exception", (PyCFunction)(void (*)(void))as_future_exception, METH_FASTCALL | METH_KEYWORDS,
     "exception(self, /, timeout=None)\n--\n\nAs concurrent.futures.Future.exception, with "
     "the checks of result()."},
    {"done", (PyCFunction)(void (*)(void))as_future_done, METH_FASTCALL,
     "done(self, /)\n--\n\nAs concurrent.futures.Future.done."},
    {"cancelled", (PyCFunction)(void (*)(void))as_future_cancelled, METH_FASTCALL,
     "cancelled(self, /)\n--\n\nAs concurrent.futures.Future.cancelled."},
    {"running", (PyCFunction)(void (*)(void))as_future_running, METH_FASTCALL,
     "running(self, /)\n--\n\nAs concurrent.futures.Future.running."},
    {"cancel", (PyCFunction)(void (*)(void))as_future_cancel, METH_FASTCALL,
     "cancel(self, /)\n--\n\nAs concurrent.futures.Future.cancel: succeeds only while the call is "
     "still queued."},
    {"add_done_callback", (PyCFunction)(void (*)(void))as_future_add_done_callback, METH_FASTCALL,
     "add_done_callback(self, fn, /)\n--\n\nAs concurrent.futures.Future.add_done_callback; "
     "fn runs on the thread that settles the future."},
    {"set_result", (PyCFunction)(void (*)(void))as_future_set_result, METH_FASTCALL,
     "set_result(self, result, /)\n--\n\nAs concurrent.futures.Future.set_result."},
    {"set_exception", (PyCFunction)(void (*)(void))as_future_set_exception, METH_FASTCALL,
     "set_exception(self, exception, /)\n--\n\nAs concurrent.futures.Future.set_exception."},
    {NULL, NULL, 0, NULL},
};

/* Sets *slot to the new reference v, unless another thread did (GIL held:
 * the values are the same objects). Returns 0, or -1 when v is NULL. */
static int as_set_once(PyObject **slot, PyObject *v) {
    if (!v) return -1;
    if (*slot) Py_DECREF(v);
    else *slot = v;
    return 0;
}

int as_setup_futures(mod_state *st, PyObject *module, PyObject *jsfuture) {
    static const char *const states[] = {"PENDING", "RUNNING", "CANCELLED",
                                         "CANCELLED_AND_NOTIFIED", "FINISHED"};
    PyObject *base = PyImport_ImportModule("concurrent.futures._base");
    if (!base) return -1;
    int rc = -1;
    for (int i = 0; i < 5; i++)
        if (as_set_once(&st->future_states[i], PyObject_GetAttrString(base, states[i])) < 0)
            goto error;
    if (as_set_once(&st->CancelledError, PyObject_GetAttrString(base, "CancelledError")) < 0)
        goto error;
    struct {
        PyObject **slot;
        const char *name;
    } keys[] = {{&st->key_state, "_state"},
                {&st->key_result, "_result"},
                {&st->key_exception, "_exception"},
                {&st->key_source, "_source"},
                {&st->key_condition, "_lazy_condition"},
                {&st->key_callbacks, "_lazy_callbacks"},
                {&st->key_waited, "_waited"}};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (as_set_once(keys[i].slot, PyUnicode_InternFromString(keys[i].name)) < 0) goto error;
    for (PyMethodDef *def = as_future_methods; def->ml_name; def++) {
        PyObject *fn = PyCFunction_NewEx(def, module, NULL);
        PyObject *method = fn ? PyInstanceMethod_New(fn) : NULL;
        Py_XDECREF(fn);
        int set = method ? PyObject_SetAttrString(jsfuture, def->ml_name, method) : -1;
        Py_XDECREF(method);
        if (set < 0) goto error;
    }
    rc = 0;
error:
    Py_DECREF(base);
    return rc;
}

/* Sets the future's exception to the current Python exception. GIL held. */
static void as_future_fail(mod_state *st, PyObject *future) {
    PyObject *exc = er_take();
    if (exc && as_future_settle(st, future, NULL, exc) < 0) PyErr_Clear(); /* a done callback's */
    Py_XDECREF(exc);
}

/* 1 if v is a promise or an object with a callable `then`. */
static int as_is_thenable(rt_env *env, napi_value v) {
    bool is = false;
    napi_valuetype type;
    napi_value then;
    if (napi_is_promise(env->napi, v, &is) == napi_ok && is) return 1;
    if (napi_typeof(env->napi, v, &type) != napi_ok || (type != napi_object && type != napi_function))
        return 0;
    if (napi_get_named_property(env->napi, v, "then", &then) != napi_ok) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env->napi, &ignored);
        return 0;
    }
    return napi_typeof(env->napi, then, &type) == napi_ok && type == napi_function;
}

/* The outcome of v when `await` has it at once: v itself if it is no
 * thenable, or (if `promises`) the value of a fulfilled promise whose
 * constructor is Promise (one that JS's own `await` also takes as it is,
 * without calling its `then`). Node lock and GIL held. Returns 1 with *out (a
 * new reference), 0 when the outcome must be waited for (attach to v), or -1
 * with an exception. */
static int as_outcome_now(rt_env *env, napi_value v, int promises, PyObject **out) {
    napi_value result, ctor, promise;
    bool same = false;
    switch (em_promise_settled(v, &result)) {
    case EM_PROMISE_NONE:
        if (as_is_thenable(env, v)) return 0;
        return (*out = cv_to_py(env, v)) ? 1 : -1;
    case EM_PROMISE_FULFILLED:
        if (!promises) return 0;
        if (!(promise = cl_helper_value(env, RT_H_PROMISE)) ||
            napi_get_named_property(env->napi, v, "constructor", &ctor) != napi_ok) {
            napi_value ignored; /* a throwing getter: attaching throws it again */
            napi_get_and_clear_last_exception(env->napi, &ignored);
            return 0;
        }
        if (napi_strict_equals(env->napi, ctor, promise, &same) != napi_ok || !same) return 0;
        return (*out = cv_to_py(env, result)) ? 1 : -1;
    default: /* pending, or rejected: attaching marks the rejection handled */
        return 0;
    }
}

/* Settles the future with v: its outcome if a thenable (at once if it is
 * there), else its value. Node lock and GIL held. */
static void as_settle_with(rt_env *env, napi_value v, PyObject *future) {
    mod_state *st = rt_state_of(env);
    PyObject *value = NULL;
    int now = as_outcome_now(env, v, 1, &value);
    if (now == 0) {
        as_attach(env, v, future);
        return;
    }
    if (now < 0) {
        as_future_fail(st, future);
        return;
    }
    if (as_future_settle(st, future, value, NULL) < 0) PyErr_Clear(); /* a done callback's */
    Py_DECREF(value);
}

static void as_drop_links(rt_env *env);

void as_fail_pending(rt_env *env) {
    PyGILState_STATE gil = PyGILState_Ensure();
    while (env->pending) {
        rt_raise_cut_short(env);
        as_pending_fail(env->pending);
    }
    as_drop_links(env);
    PyGILState_Release(gil);
}

/* ---- call_async and await ---- */

typedef struct {
    tq_task base;
    /* All set once (GIL) when queued, strong, and the task's from then on. */
    PyObject *target; /* JSObject: the function to call, or the value to await */
    PyObject *args;   /* NULL for await */
    PyObject *kwargs; /* NULL: none */
    PyObject *future;
} as_call_task;

static void as_call_task_free(as_call_task *t) {
    Py_DECREF(t->target);
    Py_XDECREF(t->args);
    Py_XDECREF(t->kwargs);
    Py_DECREF(t->future);
    PyMem_RawFree(t);
}

/* Loop thread, Node lock held. */
static void as_call_task_run(rt_env *env, tq_task *task) {
    as_call_task *t = (as_call_task *)task;
    PyGILState_STATE gil = PyGILState_Ensure();
    napi_handle_scope hscope;
    napi_value small[8], *argv = small, fn, recv, out;
    Py_ssize_t argc = 0;
    jsp_object *target = (jsp_object *)t->target;
    mod_state *st = rt_state_of(env);
    int run = as_future_set_running(st, t->future);
    if (run < 0) PyErr_Clear();
    if (run != 1) goto done_noscope; /* cancelled before it ran */
    if (napi_open_handle_scope(env->napi, &hscope) != napi_ok) {
        PyErr_SetString(PyExc_MemoryError, "cannot open a JavaScript handle scope");
        as_future_fail(st, t->future); /* never left RUNNING */
        goto done_noscope;
    }
    NAPI_OK(env, napi_get_reference_value(env->napi, target->ref, &fn));
    if (!t->args) { /* await */
        as_settle_with(env, fn, t->future);
        goto done;
    }
    if (jsp_check_function(env, fn, 0) < 0) goto error;
    if ((argc = jsp_convert_args(env, t->args, t->kwargs, small, 8, &argv)) < 0) goto error;
    if (target->bound_this) {
        if (jsp_value(env, target->bound_this, &recv) < 0) goto error;
    } else {
        NAPI_OK(env, napi_get_undefined(env->napi, &recv));
    }
    NAPI_OK(env, cl_call(env, recv, fn, (size_t)argc, argv, &out));
    as_settle_with(env, out, t->future);
    goto done;
error:
    as_future_fail(st, t->future);
done:
    if (argv != small) PyMem_Free(argv);
    napi_close_handle_scope(env->napi, hscope);
done_noscope:
    as_call_task_free(t);
    PyGILState_Release(gil);
}

static void as_call_task_cancel(rt_env *env, tq_task *task) {
    as_call_task *t = (as_call_task *)task;
    PyGILState_STATE gil = PyGILState_Ensure();
    rt_raise_cut_short(env);
    as_future_fail(rt_state_of(env), t->future);
    as_call_task_free(t);
    PyGILState_Release(gil);
}

/* Queues the task; returns the future (new reference) or NULL. */
static PyObject *as_queue(PyObject *target, PyObject *args, PyObject *kwargs) {
    rt_env *env = ((jsp_object *)target)->env;
    mod_state *st = rt_state_of(env);
    if (mod_load_futures(st) < 0) return NULL;
    PyObject *future = as_future_new(st, target);
    if (!future) return NULL;
    as_call_task *t = PyMem_RawCalloc(1, sizeof *t);
    if (!t) {
        Py_DECREF(future);
        return PyErr_NoMemory();
    }
    t->base.run = as_call_task_run;
    t->base.cancel = as_call_task_cancel;
    t->target = Py_NewRef(target);
    t->args = Py_XNewRef(args);
    t->kwargs = kwargs && PyDict_GET_SIZE(kwargs) ? Py_NewRef(kwargs) : NULL;
    t->future = Py_NewRef(future);
    if (tq_post(env, &t->base) < 0) {
        as_call_task_free(t);
        Py_DECREF(future);
        rt_raise_closed(env);
        return NULL;
    }
    return future;
}

PyObject *as_call_async(PyObject *fn, PyObject *args, PyObject *kwargs) {
    return as_queue(fn, args, kwargs);
}

/* What `await obj` and obj.result() wait for: *value (a new reference) when
 * the outcome is there at once, else *future (a new reference), which is
 * settled by the loop thread, or already. GIL held; never waits for the Node
 * lock (the caller may be an asyncio loop). Returns 0, or -1 with an
 * exception. */
static int as_start_wait(PyObject *obj, PyObject **value, PyObject **future) {
    jsp_object *o = (jsp_object *)obj;
    rt_env *env = o->env;
    mod_state *st = rt_state_of(env);
    nl_frame frame;
    napi_value v;
    int rc = -1;
    *value = *future = NULL;
    o->unobserved = 0; /* Python waits for it: its outcome is Python's */
    /* When the Node lock is free, look or attach here: a settled promise
     * then gives its outcome before this returns, without a round trip
     * through the loop thread. */
    if (mod_load_futures(st) < 0) return -1; /* before taking the Node lock */
    if (!nl_try_enter_with_gil(env, &frame)) {
        *future = as_queue(obj, NULL, NULL);
        return *future ? 0 : -1;
    }
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &v));
    /* Inside a call from JS (depth > 1) a promise, settled or not, goes to a
     * future as before, whose wait there refuses (as_may_wait): one rule for
     * result() inside callbacks. */
    int outermost = env->depth == 1;
    int now = as_outcome_now(env, v, outermost, value);
    if (now < 0) goto error;
    if (!now) {
        if (!(*future = as_future_new(st, obj))) goto error;
        if (as_future_set_running(st, *future) < 0) goto error;
        as_attach(env, v, *future);
    }
    /* The caller is about to wait for the outcome: its turn ends, so what its
     * calls deferred runs now, here, rather than at the loop thread's next
     * turn, which is a round trip away (a promise that only waited for them
     * then settles the future before this returns). */
    if (outermost && !nl_holds_turn(env)) cl_run_deferred(env, 1);
    rc = 0;
error:
    if (rc < 0) {
        Py_CLEAR(*value);
        Py_CLEAR(*future);
    }
    nl_leave_with_gil(env, &frame);
    return rc;
}

PyObject *as_await(PyObject *obj) {
    rt_env *env = ((jsp_object *)obj)->env;
    mod_state *st = rt_state_of(env);
    PyObject *value, *future, *it = NULL;
    if (as_start_wait(obj, &value, &future) < 0) return NULL;
    if (future) {
        int done = as_announce_wait(env, future);
        if (done == 1) {
            /* Settled already: a failure is raised by the `await` itself, with
             * no pymport_py frames in its traceback. */
            value = as_outcome(st, future);
        } else if (done == 0) {
            it = PyObject_CallOneArg(st->await_future, future);
        }
        Py_DECREF(future);
        if (!value) return it;
    }
    it = PyObject_CallOneArg(st->settled, value);
    Py_DECREF(value);
    return it;
}

PyObject *as_result(PyObject *obj, double timeout) {
    PyObject *value, *future;
    if (as_start_wait(obj, &value, &future) < 0) return NULL;
    if (!future) return value;
    rt_env *env = ((jsp_object *)obj)->env;
    PyObject *res = as_wait(rt_state_of(env), env, future, timeout);
    Py_DECREF(future);
    return res;
}

/* ---- Python awaitables as JS promises ---- */

/* The deferred of a promise waiting for a concurrent future. */
typedef struct {
    tq_task base;
    napi_deferred deferred; /* set once (Node lock); settled on the environment's thread */
    pyp_kind kind;     /* set once: how the result becomes JS: converted, or a PyObject */
    rt_env *env;       /* set once; strong (rt_env_incref) */
    PyObject *future;  /* GIL: set when posted: the done concurrent future */
} as_deferred;

static void as_deferred_free(as_deferred *d) {
    Py_XDECREF(d->future);
    tq_unhold(d->env);
    rt_env_decref(d->env);
    PyMem_RawFree(d);
}

/* Loop thread, Node lock held: settles the promise from the done future. */
static void as_deferred_run(rt_env *env, tq_task *task) {
    as_deferred *d = (as_deferred *)task;
    PyGILState_STATE gil = PyGILState_Ensure();
    napi_handle_scope hscope;
    napi_value out, ignored;
    PyObject *value = NULL, *exc = NULL;
    int fulfilled = 0;
    if (napi_open_handle_scope(env->napi, &hscope) != napi_ok) goto done;
    if (!d->future) {
        /* Dropped unfinished: reject, so that JS awaiting it goes on. */
        PyErr_SetString(PyExc_RuntimeError, "the Python awaitable behind this Promise was dropped "
                                            "before it finished: nothing can settle it");
        goto reject;
    }
    PyObject *cancelled = PyObject_CallMethod(d->future, "cancelled", NULL);
    if (cancelled == Py_True) {
        PyErr_SetString(PyExc_RuntimeError, "the Python future was cancelled");
    } else if (cancelled && (exc = PyObject_CallMethod(d->future, "exception", "i", 0)) != NULL) {
        if (exc == Py_None) {
            if ((value = PyObject_CallMethod(d->future, "result", "i", 0)) != NULL)
                fulfilled = (d->kind == PYP_OBJECT ? pyp_wrap_as(env, value, PYP_OBJECT, &out)
                                                   : cv_to_js(env, value, CV_ARG, &out)) == 0;
        } else {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        }
    }
    Py_XDECREF(cancelled);
reject:
    if (!fulfilled) {
        /* The outcome is the current Python exception. */
        PyObject *e = er_take();
        /* PyObject results: require('pymport')'s callAsync, in pymport's words. */
        if (!(out = er_exception_value_as(env, e, d->kind == PYP_OBJECT)))
            napi_get_undefined(env->napi, &out);
        Py_XDECREF(e);
        napi_reject_deferred(env->napi, d->deferred, out);
    } else {
        napi_resolve_deferred(env->napi, d->deferred, out);
    }
    /* Run the reactions that settling queued, as after any call. */
    cl_call_helper(env, RT_H_DRAIN, 0, NULL, &ignored);
    napi_close_handle_scope(env->napi, hscope);
done:
    Py_XDECREF(value);
    Py_XDECREF(exc);
    as_deferred_free(d);
    PyGILState_Release(gil);
}

static void as_deferred_cancel(rt_env *env, tq_task *task) {
    (void)env;
    PyGILState_STATE gil = PyGILState_Ensure();
    as_deferred_free((as_deferred *)task);
    PyGILState_Release(gil);
}

/* The capsule behind the done callback holds a link to the record, emptied
 * when the callback hands the record to a task, or when the environment
 * closes first. Live links are listed on their environment (env->links). GIL. */
struct as_link {
    as_deferred *d;               /* GIL: NULL once taken */
    rt_env *env;                  /* set once; used only while `d` (which holds it) is set */
    struct as_link *prev, *next;  /* GIL: env->links */
};
typedef struct as_link as_link;

static as_link *as_link_new(as_deferred *d) {
    as_link *link = PyMem_RawMalloc(sizeof *link);
    if (!link) return (as_link *)PyErr_NoMemory();
    rt_env *env = d->env;
    *link = (as_link){.d = d, .env = env, .prev = NULL, .next = env->links};
    if (env->links) env->links->prev = link;
    env->links = link;
    return link;
}

/* Takes the record off the link, and the link off its environment's list. */
static as_deferred *as_link_take(as_link *link) {
    as_deferred *d = link->d;
    if (!d) return NULL;
    link->d = NULL;
    if (link->prev) link->prev->next = link->next;
    else link->env->links = link->next;
    if (link->next) link->next->prev = link->prev;
    link->prev = link->next = NULL;
    return d;
}

/* Hands the record to the loop thread to settle its promise (d->future set:
 * from the done future; NULL: rejected as dropped), or frees it when the
 * environment is closing. */
static void as_deferred_post(as_deferred *d) {
    if (tq_post(d->env, &d->base) < 0) as_deferred_free(d); /* closed: nobody waits */
}

/* Promises of Python futures still running when their environment closes:
 * nothing can settle them any more, and the futures no longer keep the
 * environment. GIL held. */
static void as_drop_links(rt_env *env) {
    while (env->links) as_deferred_free(as_link_take(env->links));
}

static void as_capsule_destroy(PyObject *capsule) {
    as_link *link = PyCapsule_GetPointer(capsule, "pymport_py.deferred");
    if (!link) {
        PyErr_Clear();
        return;
    }
    as_deferred *d = as_link_take(link);
    if (d) as_deferred_post(d); /* the future was dropped before it finished */
    PyMem_RawFree(link);
}

/* The concurrent future's done callback: any thread, GIL held. */
static PyObject *as_on_future_done(PyObject *capsule, PyObject *future) {
    as_link *link = PyCapsule_GetPointer(capsule, "pymport_py.deferred");
    if (!link) return NULL;
    as_deferred *d = as_link_take(link);
    if (!d) Py_RETURN_NONE;
    d->future = Py_NewRef(future); /* the task owns the record now */
    as_deferred_post(d);
    Py_RETURN_NONE;
}

static PyMethodDef as_done_def = {"_settle_promise", as_on_future_done, METH_O, NULL};

/* Borrowed: concurrent.futures.Future, or NULL (no exception) while nothing
 * imported concurrent.futures, when no object can be one. GIL held. */
static PyTypeObject *as_concurrent_future_type(mod_state *st) {
    if (st->ConcurrentFuture) return (PyTypeObject *)st->ConcurrentFuture;
    PyObject *module = PyDict_GetItemWithError(PyImport_GetModuleDict(), st->concurrent_futures_name);
    PyObject *type = module ? PyObject_GetAttrString(module, "Future") : NULL;
    if (!type || !PyType_Check(type)) { /* not imported, or not yet */
        Py_XDECREF(type);
        PyErr_Clear();
        return NULL;
    }
    if (!st->ConcurrentFuture) st->ConcurrentFuture = type;
    else Py_DECREF(type);
    return (PyTypeObject *)st->ConcurrentFuture;
}

int as_is_awaitable(mod_state *st, PyObject *obj) {
    PyAsyncMethods *am = Py_TYPE(obj)->tp_as_async;
    if (am && am->am_await) return 1;
    PyTypeObject *future = as_concurrent_future_type(st);
    return future && PyObject_TypeCheck(obj, future);
}

int as_awaitable_to_js(rt_env *env, PyObject *obj, napi_value *out) {
    return as_awaitable_to_js_as(env, obj, PYP_AUTO, out);
}

int as_awaitable_to_js_as(rt_env *env, PyObject *obj, pyp_kind kind, napi_value *out) {
    mod_state *st = rt_state_of(env);
    PyObject *cf = NULL, *capsule = NULL, *cb = NULL, *r = NULL;
    as_deferred *d = NULL;
    int rc = -1;
    if (mod_load_futures(st) < 0) return -1;
    if (!(cf = PyObject_CallOneArg(st->to_concurrent_future, obj))) goto error;
    if (!(d = PyMem_RawCalloc(1, sizeof *d))) {
        PyErr_NoMemory();
        goto error;
    }
    d->base.run = as_deferred_run;
    d->base.cancel = as_deferred_cancel;
    d->kind = kind;
    d->env = env;
    rt_env_incref(env);
    tq_hold(env);
    NAPI_OK(env, napi_create_promise(env->napi, &d->deferred, out));
    as_link *link = as_link_new(d);
    if (!link) goto error;
    if (!(capsule = PyCapsule_New(link, "pymport_py.deferred", as_capsule_destroy))) {
        as_link_take(link);
        PyMem_RawFree(link);
        goto error;
    }
    d = NULL; /* the capsule owns it */
    if (!(cb = PyCFunction_New(&as_done_def, capsule))) goto error;
    if (!(r = PyObject_CallMethod(cf, "add_done_callback", "O", cb))) goto error;
    rc = 0;
error:
    if (d) as_deferred_free(d);
    Py_XDECREF(cf);
    Py_XDECREF(capsule);
    Py_XDECREF(cb);
    Py_XDECREF(r);
    return rc;
}
