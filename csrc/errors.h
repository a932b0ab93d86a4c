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

/* Sends the JS value `err` to sys.unraisablehook as a JSError. Node lock held;
 * takes the GIL itself. */
void er_unraisable(rt_env *env, napi_value err, const char *what);

#endif
