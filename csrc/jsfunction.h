/* jsfunction.h - pymport.js_function: a JS function handed to Python through
 * pymport's JS API (require('pymport')), called as pymport calls it. */
#ifndef PYMPORT_JSFUNCTION_H
#define PYMPORT_JSFUNCTION_H

#include "runtime.h"

/* Returns a new reference: a js_function calling the JS function `fn` (a
 * JSObject). GIL held. */
PyObject *jf_new(mod_state *st, PyObject *fn);
/* True if obj is a js_function. */
int jf_check(mod_state *st, PyObject *obj);
/* The JS function of a js_function. Node lock and GIL held. Returns 0 or -1. */
int jf_value(rt_env *env, PyObject *obj, napi_value *out);

int jf_setup_type(PyObject *module);

#endif
