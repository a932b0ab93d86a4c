/* errors.h - exception mapping both ways. All functions: Node lock and GIL held. */
#ifndef PYMPORT_ERRORS_H
#define PYMPORT_ERRORS_H

#include "runtime.h"

/* Checks a napi_status; on failure sets the Python exception and jumps to
 * `error`. Node lock and GIL held. */
#define NAPI_OK(env, call)                                                    \
    do {                                                                      \
        napi_status napi_ok_status_ = (call);                                 \
        if (napi_ok_status_ != napi_ok) {                                     \
            er_from_status((env), napi_ok_status_);                           \
            goto error;                                                       \
        }                                                                     \
    } while (0)

/* Checks the napi_status of a call made by a JS-facing callback (a
 * napi_callback that JS calls: the binding's functions, the proxy of a Python
 * callable, a then-callback), where a failure is JS's to see: throws a JS
 * Error naming the failed call, unless a JS exception is already pending (the
 * call's own, which then stands), and jumps to `js_error`, where the callback
 * cleans up and returns NULL. Node lock held; no GIL needed. Code that reports
 * failures as Python exceptions (pa_* bodies, conversions) uses NAPI_OK; a
 * callback turns those into JS with er_throw_to_js. A call left unchecked in a
 * callback says why its failure is harmless. */
#define JS_TRY(napi, call)                                                    \
    do {                                                                      \
        if ((call) != napi_ok) {                                              \
            er_throw_failed_call((napi), #call);                              \
            goto js_error;                                                    \
        }                                                                     \
    } while (0)

/* JS_TRY's failure: throws an Error naming `call` and Node-API's reason,
 * unless a JS exception is pending. Node lock held. */
void er_throw_failed_call(napi_env napi, const char *call);

/* Sets the Python exception for a failed Node-API call: the pending JS
 * exception converted, ProcessExit/EnvironmentClosed when the environment was
 * stopped, else a RuntimeError naming the Node-API error. Returns -1. */
int er_from_status(rt_env *env, napi_status status);

/* Sets the Python exception for the thrown JS value `exc`: the original Python
 * exception if `exc` carries one, else JSError or a subclass. */
void er_from_js(rt_env *env, napi_value exc);

/* Returns a new reference: the current Python exception, normalized, with its
 * traceback attached, and clears it; NULL if none is set. GIL held. */
PyObject *er_take(void);

/* Throws the current Python exception into JS and clears it: the original JS
 * value for a JSError, else an Error with pythonType/pythonValue/pythonTrace. */
void er_throw_to_js(rt_env *env);

/* Makes the JS value for the Python exception instance `value` (as
 * er_throw_to_js would throw it) without throwing. Returns 0, or -1 with a
 * Python exception. */
int er_exception_to_js(rt_env *env, PyObject *value, napi_value *out);
/* er_exception_to_js that cannot fail with a Python exception: when the
 * conversion fails (no stack left, say), an Error naming value's type. NULL
 * value: the current one was lost. Clears any Python exception; returns NULL
 * only when no JS value could be made at all. Node lock and GIL held. */
napi_value er_exception_value(rt_env *env, PyObject *value);
/* The two above with the message in pymport's words when `pymport_message`:
 * "Python exception: <str(value)>" rather than "<type>: <str(value)>" (the
 * errors of require('pymport')'s calls into Python). */
int er_exception_to_js_as(rt_env *env, PyObject *value, int pymport_message, napi_value *out);
napi_value er_exception_value_as(rt_env *env, PyObject *value, int pymport_message);

/* Sends the JS value `err` to sys.unraisablehook as a JSError. Node lock held;
 * takes the GIL itself. */
void er_unraisable(rt_env *env, napi_value err, const char *what);

#endif
