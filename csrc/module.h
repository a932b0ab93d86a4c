/* module.h - the module state: every type and exception object of _pymport.
 *
 * The module is single-interpreter: Node's process state (platform, V8) is
 * process-wide, so a second interpreter could not have an independent copy. */
#ifndef PYMPORT_MODULE_H
#define PYMPORT_MODULE_H

/* No PY_SSIZE_T_CLEAN: no "#" formats are used, and before 3.13 it renames
 * the argument parsers to private _SizeT symbols. */
#include <Python.h>

#include "compat.h"

typedef struct {
    /* types */
    PyTypeObject *JSObjectType;
    PyTypeObject *JSIteratorType;
    PyTypeObject *EnvironmentType;
    PyTypeObject *NullType;
    PyTypeObject *RefType;
    PyTypeObject *LiveType;       /* pymport_py.live (live.c) */
    PyTypeObject *JSFunctionType; /* pymport.js_function (jsfunction.c) */
    PyObject *js_functions;       /* weakref.WeakValueDictionary: JSObject -> its js_function */
    PyObject *jsobject_type_names; /* frozenset: the attribute names of JSObjectType */
    /* exceptions */
    PyObject *JSError;
    PyObject *JSTypeError;
    PyObject *JSRangeError;
    PyObject *JSSyntaxError;
    PyObject *JSReferenceError;
    PyObject *ProcessExit;
    PyObject *EnvironmentClosed;
    PyObject *JSComparisonWarning;
    /* singletons and helpers */
    PyObject *null;            /* the pymport_py.null singleton */
    PyObject *epoch;           /* datetime(1970, 1, 1, tzinfo=utc) */
    PyObject *timedelta;       /* datetime.timedelta */
    /* set at first use (mod_load_futures), NULL until then */
    PyObject *JSFuture;        /* pymport_py._futures.JSFuture */
    PyObject *ConcurrentFuture; /* concurrent.futures.Future (also set by as_is_awaitable) */
    PyObject *to_concurrent_future; /* pymport_py._futures.to_concurrent_future */
    PyObject *await_future;    /* pymport_py._futures.await_future */
    PyObject *settled;         /* pymport_py._futures.settled */
    PyObject *call_in_thread;  /* pymport_py._futures.call_in_thread */
    PyObject *concurrent_futures_name; /* the str "concurrent.futures" */
    /* JSFuture's state (async.c): the state names of concurrent.futures (its
     * own objects, indexed by as_state), its CancelledError, and the keys of
     * a JSFuture's instance dict (interned) */
    PyObject *future_states[5];
    PyObject *CancelledError;
    PyObject *key_state, *key_result, *key_exception, *key_source;
    PyObject *key_condition, *key_callbacks; /* made on first use by _futures.JSFuture */
    PyObject *key_waited;      /* set by a thread that waits for the future in C (async.c) */
} mod_state;

/* Sets the _futures fields of `st` on first use. GIL held. Returns 0, or -1
 * with an exception. */
int mod_load_futures(mod_state *st);

/* The module definition (for PyType_GetModuleByDef). */
extern PyModuleDef mod_def;

/* Borrowed. The module's state; the module must be alive. */
static inline mod_state *mod_get_state(PyObject *module) {
    return (mod_state *)PyModule_GetState(module);
}

/* Borrowed. The state of the module that defined `type` (a heap type of ours). */
static inline mod_state *mod_state_of_type(PyTypeObject *type) {
    return (mod_state *)PyType_GetModuleState(type);
}

#endif
