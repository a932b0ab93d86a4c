/* pyproxy.h - the JS side: JS objects that stand for Python objects. */
#ifndef PYMPORT_PYPROXY_H
#define PYMPORT_PYPROXY_H

#include "runtime.h"

/* The kinds of JS proxy of a Python object (the low bits of its key in
 * env->pyobjects: object addresses are aligned). */
typedef enum {
    PYP_AUTO = 0,      /* a function for callables, else a PyObject (DESIGN.md section 5) */
    PYP_OBJECT = 1,    /* always a PyObject (pymport's API: pyval, PyObject.get ...) */
    PYP_LIVE_LIST = 2, /* pymport_py.live() of a list or MutableSequence: a Proxy over an Array (live.c) */
    PYP_LIVE_DICT = 3, /* pymport_py.live() of a dict or MutableMapping: a Proxy over an object (live.c) */
} pyp_kind;

/* Gets the JS proxy of a Python object, the same JS object while it is alive.
 * Node lock and GIL held. Returns 0, or -1 with a Python exception. */
int pyp_wrap_as(rt_env *env, PyObject *obj, pyp_kind kind, napi_value *out);
/* pyp_wrap_as(PYP_AUTO). */
int pyp_wrap(rt_env *env, PyObject *obj, napi_value *out);
/* Makes the JS object v (a proxify() Proxy) stand for obj too: it then
 * converts back to obj. Node lock and GIL held. Returns 0 or -1. */
int pyp_mark(rt_env *env, napi_value v, PyObject *obj);

/* Returns a borrowed reference to the Python object if v is one of our proxies,
 * else NULL (no exception). Node lock held. */
PyObject *pyp_unwrap(rt_env *env, napi_value v);
/* Adds the PyObject helpers (str, repr) to the binding. Node lock held. */
napi_status pyp_define_binding(napi_env napi, napi_value exports);

#endif
