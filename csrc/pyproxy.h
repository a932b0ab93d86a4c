/* pyproxy.h - the JS side: JS objects that stand for Python objects. */
#ifndef PYMPORT_PYPROXY_H
#define PYMPORT_PYPROXY_H

#include "runtime.h"

/* Gets the JS proxy of a Python object: a function for callables, a PyObject
 * instance otherwise; the same JS object while it is alive. Node lock and GIL
 * held. Returns 0, or -1 with a Python exception. */
int pyp_wrap(rt_env *env, PyObject *obj, napi_value *out);
/* Returns a borrowed reference to the Python object if v is one of our proxies,
 * else NULL (no exception). Node lock held. */
PyObject *pyp_unwrap(rt_env *env, napi_value v);
/* Adds the PyObject helpers (str, repr) to the binding. Node lock held. */
napi_status pyp_define_binding(napi_env napi, napi_value exports);

#endif
