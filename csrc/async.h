/* async.h - futures, promises and call_async (DESIGN.md section 7). */
#ifndef PYMPORT_ASYNC_H
#define PYMPORT_ASYNC_H

#include "pyproxy.h"
#include "runtime.h"

/* A future waiting for a JS promise; listed on its environment so that closing
 * it fails the future. */
typedef struct as_pending {
    struct as_pending *prev, *next; /* GIL: env->pending's links */
    PyObject *future;               /* GIL: strong; NULL once settled */
    /* set once; borrowed, used only while `future` is set (the environment
     * settles every entry before it dies: as_fail_pending) */
    rt_env *env;
    atomic_int refs;                /* atomic: the list entry and the two settle functions */
} as_pending;

/* Returns a new reference: a JSFuture settled with the outcome of calling fn
 * (a JSObject) with args/kwargs on the loop thread; a returned promise or
 * thenable settles it. GIL held; never takes the Node lock. */
PyObject *as_call_async(PyObject *fn, PyObject *args, PyObject *kwargs);

/* Returns a new reference: the iterator of `await obj` (JSObject.__await__)
 * for the JSObject obj: the outcome of a promise or thenable, else the value
 * itself; at once when it is there, else through a JSFuture that the loop
 * thread settles. GIL held; never waits for the Node lock. */
PyObject *as_await(PyObject *obj);
/* Returns a new reference: obj.result(timeout), the same outcome, waited for
 * as as_wait does. GIL held. */
PyObject *as_result(PyObject *obj, double timeout);

/* The caller is about to wait for `future`, which env's loop thread settles:
 * tells the loop thread (nl_python_will_wait) unless the future is done.
 * Returns 1 if done, 0 if not, -1 with an exception. GIL held. */
int as_announce_wait(rt_env *env, PyObject *future);

/* Makes the two settle functions (then-callbacks) that settle `future` with a
 * promise's outcome, for a JS call that attaches them itself. Node lock and
 * GIL held. Returns the pending entry, or NULL with the failure in the future. */
as_pending *as_settle_functions(rt_env *env, PyObject *future, napi_value fns[2]);
/* Unlists an entry whose settle functions were never attached (the future is
 * failed). Keeps the current Python exception. GIL held. */
void as_pending_drop(as_pending *p);
/* Returns a new reference: the future's result, waiting without any Node lock
 * and with the GIL released (timeout < 0: no limit); raises its exception
 * (from here: its traceback starts at the caller's frame), TimeoutError, or
 * RuntimeError when waiting could never end (inside a call from env's JS).
 * env: the environment that settles the future, or NULL when unknown. GIL
 * held, env's lock not taken by the caller's frame. */
PyObject *as_wait(mod_state *st, rt_env *env, PyObject *future, double timeout);
/* A `timeout` argument in seconds: *out is -1 for forever (inf), 0 for a
 * negative one. Returns 0, or -1 with ValueError (nan) or TypeError. */
int as_parse_timeout(PyObject *obj, double *out);
/* JSFuture.result(self, timeout=None), a method of the class (as_setup_futures):
 * as as_wait, with the environment of the future's `_source`. */
PyObject *as_future_result(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames);
/* Puts the C methods on the class JSFuture (result, exception, done,
 * cancelled, running, cancel, add_done_callback) and fills the module
 * state's fields for them, once (mod_load_futures). GIL held. Returns 0 or
 * -1 with an exception. */
int as_setup_futures(mod_state *st, PyObject *module, PyObject *jsfuture);

/* True if obj is a Python awaitable or future that becomes a JS Promise. */
int as_is_awaitable(mod_state *st, PyObject *obj);

/* Makes a JS Promise settled by the Python awaitable obj. Node lock and GIL
 * held. Returns 0, or -1 with a Python exception. */
int as_awaitable_to_js(rt_env *env, PyObject *obj, napi_value *out);

/* The same, the promise resolving with a proxy of the given kind. */
int as_awaitable_to_js_as(rt_env *env, PyObject *obj, pyp_kind kind, napi_value *out);

/* Fails every future still waiting for a promise of env. Loop thread, during
 * teardown (Node lock held, not the GIL). */
void as_fail_pending(rt_env *env);

#endif
