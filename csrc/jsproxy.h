/* jsproxy.h - the Python type JSObject: a live view of a JS value. */
#ifndef PYMPORT_JSPROXY_H
#define PYMPORT_JSPROXY_H

#include "runtime.h"

typedef struct jsp_object {
    PyObject_HEAD
    rt_env *env;           /* set once; strong (rt_env_incref) */
    napi_ref ref;          /* set once; strong reference to the JS value, released by dealloc (tq_release_ref) */
    uint32_t hash;         /* set once: V8 identity hash */
    /* GIL: JSObject used as `this` when called (method proxy), or NULL; set
     * at creation, cleared by tp_clear */
    PyObject *bound_this;
    PyObject *weakreflist; /* GIL */
    /* GIL: a promise that Python neither awaited nor handed back to JS (yet):
     * its dealloc tells JS, which reports it if it rejected (jsp_dealloc) */
    unsigned char unobserved;
    vectorcallfunc vectorcall; /* set once: calls without an argument tuple */
} jsp_object;

/* Returns a new reference: the JSObject for JS object v, the same one while it
 * is alive. Node lock and GIL held. */
PyObject *jsp_wrap(rt_env *env, napi_value v);
/* Returns a new reference: a method proxy of function fn bound to `self`. */
PyObject *jsp_wrap_bound(rt_env *env, napi_value fn, PyObject *self);
/* The JS value of a JSObject. Raises ValueError if it belongs to another
 * environment. Node lock and GIL held. Returns 0 or -1. */
int jsp_value(rt_env *env, PyObject *obj, napi_value *out);
/* True if obj is a JSObject (or subclass). */
int jsp_check(mod_state *st, PyObject *obj);

/* Raises TypeError unless fn is a function. Node lock and GIL held. Returns 0 or -1. */
int jsp_check_function(rt_env *env, napi_value fn, int construct);

/* Converts call arguments; keyword arguments become one trailing plain
 * object. Returns the number of values in *argv (PyMem-allocated when larger
 * than `small`: the caller frees it), or -1 with *argv == small. Node lock
 * and GIL held. */
/* jsp_convert_args for the n arguments at items. */
Py_ssize_t jsp_convert_argv(rt_env *env, PyObject *const *items, Py_ssize_t n, PyObject *kwargs,
                            napi_value *small, Py_ssize_t nsmall, napi_value **argv);
Py_ssize_t jsp_convert_args(rt_env *env, PyObject *args, PyObject *kwargs, napi_value *small,
                            Py_ssize_t nsmall, napi_value **argv);

int jsp_setup_types(PyObject *module);

#endif
