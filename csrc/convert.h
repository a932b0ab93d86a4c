/* convert.h - value conversion (DESIGN.md section 5). tojs.c converts Python
 * values to JS, fromjs.c JS values to Python. All: Node lock and GIL held. */
#ifndef PYMPORT_CONVERT_H
#define PYMPORT_CONVERT_H

#include "runtime.h"

typedef enum {
    CV_ARG,    /* an argument or assigned value: None -> undefined */
    CV_NESTED, /* inside a copied container: None -> null */
} cv_mode;

/* Converts obj to a JS value in the current handle scope. Returns 0, or -1
 * with a Python exception. */
int cv_to_js(rt_env *env, PyObject *obj, cv_mode mode, napi_value *out);

/* cv_to_js for a str used as a property name: short Latin-1 names come from
 * a per-environment cache of internalized JS strings, which property lookups
 * compare by identity. Returns 0, or -1 with a Python exception. */
int cv_key_to_js(rt_env *env, PyObject *name, napi_value *out);
/* Frees env's cache of names. Node lock held, isolate alive (teardown). */
void cv_keys_free(rt_env *env);

/* pymport's toJS({depth, buffer}) (the JS API, docs/javascript.md): values
 * `depth` levels down (-1: no limit) and, unless `buffers`, buffer objects
 * stay PyObjects; sets become Arrays, modules objects of their attributes,
 * buffers Buffers (copies); shared and circular structures stay so; a
 * callable becomes make_fn(its PyObject). */
int cv_to_js_pymport(rt_env *env, PyObject *obj, int depth, int buffers, napi_value make_fn,
                     napi_value *out);

/* Returns a new reference: the Python value of v (primitives by value, the
 * original object for a proxy of a Python object, else a JSObject), or NULL
 * with an exception. */
PyObject *cv_to_py(rt_env *env, napi_value v);

/* Returns a new reference: a deep copy of v into Python containers
 * (JSObject.to_py), or NULL with an exception. */
PyObject *cv_to_py_deep(rt_env *env, napi_value v);

/* Returns a new reference: cv_to_py_deep with the rules of pymport's JS API
 * (fromJS() and arguments, docs/javascript.md): shared and circular structures
 * stay so, a Buffer becomes a bytearray, integral numbers of any size become
 * ints, functions pymport.js_function, and symbols and class instances throw
 * TypeError. */
PyObject *cv_to_py_pymport(rt_env *env, napi_value v);

/* Returns a new reference: the str for a JS string value, or NULL. */
PyObject *cv_string_to_py(rt_env *env, napi_value v);

#endif
