/* module.c - module init, module state and the small exported types.
 *
 * The extension module pymport_py._pymport (PEP 489 multi-phase init, heap
 * types, all state in the module state). The public API is pymport_py/__init__.py,
 * which keeps the main Environment. */
#include "module.h"

#include "async.h"
#include "environment.h"
#include "interrupts.h"
#include "jsfunction.h"
#include "jsproxy.h"
#include "live.h"
#include "nodelock.h"
#include "runtime.h"

#include <dlfcn.h>
#include <math.h>
#include <structmember.h>

/* ---- null: the JS null, for where None would mean undefined ---- */

static PyObject *null_repr(PyObject *self) {
    (void)self;
    return PyUnicode_FromString("null");
}

static int null_bool(PyObject *self) {
    (void)self;
    return 0;
}

static PyType_Slot null_slots[] = {
    {Py_tp_doc, "The JavaScript null (pymport_py.null); None converts to undefined."},
    {Py_tp_repr, null_repr},
    {Py_nb_bool, null_bool},
    {0, NULL},
};

static PyType_Spec null_spec = {
    .name = "pymport_py.NullType",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = null_slots,
};

/* ---- ref(value): pass a Python object by reference ---- */

typedef struct {
    PyObject_HEAD
    PyObject *value;
} ref_object;

static PyObject *ref_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *value;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "ref() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O:ref", &value)) return NULL;
    ref_object *self = (ref_object *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->value = Py_NewRef(value);
    return (PyObject *)self;
}

static int ref_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((ref_object *)self)->value);
    return 0;
}

static int ref_clear(PyObject *self) {
    Py_CLEAR(((ref_object *)self)->value);
    return 0;
}

static void ref_dealloc(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    ref_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyObject *ref_repr(PyObject *self) {
    return PyUnicode_FromFormat("ref(%R)", ((ref_object *)self)->value);
}

static PyMemberDef ref_members[] = {
    {"value", T_OBJECT_EX, offsetof(ref_object, value), READONLY, "The referenced object."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot ref_slots[] = {
    {Py_tp_doc, "ref(value): pass value to JavaScript by reference (a PyObject proxy), never copied."},
    {Py_tp_new, ref_new},
    {Py_tp_dealloc, ref_dealloc},
    {Py_tp_traverse, ref_traverse},
    {Py_tp_clear, ref_clear},
    {Py_tp_repr, ref_repr},
    {Py_tp_members, ref_members},
    {0, NULL},
};

static PyType_Spec ref_spec = {
    .name = "pymport_py.ref",
    .basicsize = sizeof(ref_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = ref_slots,
};

/* ---- _forwarding(prep): a function whose work is a call made from C ----
 *
 * Calling it calls prep(*args, **kwargs), which returns (fn, fn_args) or
 * (fn, fn_args, fn_kwargs); then fn(*fn_args, **fn_kwargs). prep's frame is gone by then, so an exception of fn (a
 * JSError) has no frame of pymport_py's Python layer in its traceback. Binds
 * as a method does; functools.update_wrapper fills its __dict__. */

typedef struct {
    PyObject_HEAD
    PyObject *prep;
    PyObject *dict;
} fwd_object;

static PyObject *fwd_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *prep;
    if ((kwargs && PyDict_GET_SIZE(kwargs)) || !PyArg_ParseTuple(args, "O:_forwarding", &prep))
        return NULL;
    fwd_object *self = (fwd_object *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->prep = Py_NewRef(prep);
    return (PyObject *)self;
}

static PyObject *fwd_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *plan = PyObject_Call(((fwd_object *)self)->prep, args, kwargs);
    if (!plan) return NULL;
    PyObject *res = NULL;
    Py_ssize_t n = PyTuple_Check(plan) ? PyTuple_GET_SIZE(plan) : 0;
    PyObject *fn_kwargs = n == 3 ? PyTuple_GET_ITEM(plan, 2) : NULL;
    if ((n != 2 && n != 3) || !PyTuple_Check(PyTuple_GET_ITEM(plan, 1)) ||
        (fn_kwargs && !PyDict_Check(fn_kwargs)))
        PyErr_SetString(PyExc_TypeError,
                        "a _forwarding function returns (callable, args tuple[, kwargs dict])");
    else
        res = PyObject_Call(PyTuple_GET_ITEM(plan, 0), PyTuple_GET_ITEM(plan, 1), fn_kwargs);
    Py_DECREF(plan);
    return res;
}

static PyObject *fwd_repr(PyObject *self) { return PyObject_Repr(((fwd_object *)self)->prep); }

static PyObject *fwd_get(PyObject *self, PyObject *obj, PyObject *type) {
    (void)type;
    if (!obj || obj == Py_None) return Py_NewRef(self);
    return PyMethod_New(self, obj);
}

static int fwd_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((fwd_object *)self)->prep);
    Py_VISIT(((fwd_object *)self)->dict);
    return 0;
}

static int fwd_clear(PyObject *self) {
    Py_CLEAR(((fwd_object *)self)->prep);
    Py_CLEAR(((fwd_object *)self)->dict);
    return 0;
}

static void fwd_dealloc(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    fwd_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyMemberDef fwd_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(fwd_object, dict), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

/* Pickles by name, as functions do (update_wrapper set __qualname__). */
static PyObject *fwd_reduce(PyObject *self, PyObject *unused) {
    (void)unused;
    return PyObject_GetAttrString(self, "__qualname__");
}

static PyMethodDef fwd_methods[] = {
    {"__reduce__", fwd_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef fwd_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot fwd_slots[] = {
    {Py_tp_doc, "_forwarding(prep): calls prep(...) for (fn, args[, kwargs]), then fn(*args, **kwargs) from C."},
    {Py_tp_new, fwd_new},
    {Py_tp_call, fwd_call},
    {Py_tp_descr_get, fwd_get},
    {Py_tp_repr, fwd_repr},
    {Py_tp_dealloc, fwd_dealloc},
    {Py_tp_traverse, fwd_traverse},
    {Py_tp_clear, fwd_clear},
    {Py_tp_members, fwd_members},
    {Py_tp_getset, fwd_getset},
    {Py_tp_methods, fwd_methods},
    {0, NULL},
};

static PyType_Spec fwd_spec = {
    .name = "pymport_py._forwarding",
    .basicsize = sizeof(fwd_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = fwd_slots,
};

/* ---- module functions ---- */

static PyObject *mod_signal_fd(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyLong_FromLong(ir_signal_fd());
}

/* Seconds as int64 nanoseconds: 0 for "never" (None, +inf, or past what
 * int64 holds, about 292 years), at least 1 otherwise. Returns -1 with
 * ValueError for NaN or, when !allow_past, a number that is not positive. */
static int mod_seconds_to_ns(PyObject *arg, const char *what, int allow_past, int64_t *ns) {
    *ns = 0;
    if (arg == Py_None) return 0;
    double seconds = PyFloat_AsDouble(arg);
    if (seconds == -1 && PyErr_Occurred()) return -1;
    if (isnan(seconds) || (!allow_past && !(seconds > 0))) {
        PyErr_Format(PyExc_ValueError, "%s must be a positive number of seconds or None, not %R",
                     what, arg);
        return -1;
    }
    if (seconds >= 9.2e9) return 0; /* beyond int64 nanoseconds: never */
    int64_t v = (int64_t)(seconds * 1e9);
    *ns = v > 0 ? v : 1;
    return 0;
}

static PyObject *mod_set_deadline(PyObject *module, PyObject *arg) {
    (void)module;
    int64_t ns;
    if (mod_seconds_to_ns(arg, "the deadline", 1, &ns) < 0) return NULL;
    ir_set_deadline(ns);
    Py_RETURN_NONE;
}

static PyObject *mod_get_deadline(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    int64_t ns = ir_get_deadline();
    if (!ns) Py_RETURN_NONE;
    return PyFloat_FromDouble((double)ns / 1e9);
}

static PyObject *mod_set_lock_wait_limit(PyObject *module, PyObject *arg) {
    (void)module;
    int64_t ns;
    if (mod_seconds_to_ns(arg, "the limit", 0, &ns) < 0) return NULL;
    nl_set_python_wait_limit(ns);
    Py_RETURN_NONE;
}

static PyObject *mod_python_exiting(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    rt_join_stopped(1);
    cp_set_exiting();
    Py_RETURN_NONE;
}

static PyObject *mod_startup_snapshot(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyBool_FromLong(em_uses_snapshot());
}

static PyMethodDef mod_methods[] = {
    {"set_lock_wait_limit", mod_set_lock_wait_limit, METH_O,
     "set_lock_wait_limit(seconds or None): how long a call waits for a Node environment whose "
     "lock's holder stays inside a Python callback called from JavaScript (default 10 s; None: "
     "forever) before it raises RuntimeError instead of deadlocking."},
    {"_signal_fd", mod_signal_fd, METH_NOARGS, "The fd for signal.set_wakeup_fd (Ctrl-C in JS)."},
    {"_set_deadline", mod_set_deadline, METH_O,
     "Set (time.monotonic() seconds) or clear (None) this thread's JS deadline."},
    {"_get_deadline", mod_get_deadline, METH_NOARGS, "This thread's JS deadline, or None."},
    {"_startup_snapshot", mod_startup_snapshot, METH_NOARGS,
     "True when environments start from Node's startup snapshot (Node 24+, once Node "
     "initialised, unless PYMPORT_NO_SNAPSHOT=1 was set)."},
    {"_python_exiting", mod_python_exiting, METH_NOARGS,
     "Called by the exit hook once every environment stopped: from now on no JavaScript thread "
     "enters Python (before 3.13 nothing public tells such a thread that Python finalizes)."},
    {NULL, NULL, 0, NULL},
};

/* ---- the asyncio glue, on first use ---- */

/* pymport_py/_futures.py is imported when first needed (a call_async, an
 * await, a result(), a Python awaitable handed to JavaScript), not with the
 * extension: it imports concurrent.futures, and with it logging, a large part
 * of the Python that a cold start would import otherwise. GIL held; importing
 * may let another thread in, so the fields are set after it, by the first
 * thread to get there. */
int mod_load_futures(mod_state *st) {
    if (st->JSFuture) return 0;
    PyObject *futures = PyImport_ImportModule("pymport_py._futures");
    PyObject *cf = futures ? PyImport_ImportModule("concurrent.futures") : NULL;
    PyObject *got[6] = {NULL};
    static const char *const names[5] = {"JSFuture", "to_concurrent_future", "await_future",
                                         "settled", "call_in_thread"};
    int rc = -1;
    if (!cf) goto done;
    for (int i = 0; i < 5; i++)
        if (!(got[i] = PyObject_GetAttrString(futures, names[i]))) goto done;
    if (!(got[5] = PyObject_GetAttrString(cf, "Future"))) goto done;
    /* JSFuture's methods in C (async.c), before any thread can make one. */
    PyObject *module = PyType_GetModule(st->NullType); /* borrowed */
    if (!module || as_setup_futures(st, module, got[0]) < 0) goto done;
    if (!st->JSFuture) { /* no other thread was first */
        st->JSFuture = got[0];
        st->to_concurrent_future = got[1];
        st->await_future = got[2];
        st->settled = got[3];
        st->call_in_thread = got[4];
        for (int i = 0; i < 5; i++) got[i] = NULL;
        if (!st->ConcurrentFuture) {
            st->ConcurrentFuture = got[5];
            got[5] = NULL;
        }
    }
    rc = 0;
done:
    for (int i = 0; i < 6; i++) Py_XDECREF(got[i]);
    Py_XDECREF(futures);
    Py_XDECREF(cf);
    return rc;
}

/* ---- module ---- */

/* Adds a new exception class `name` with the given bases to the module and
 * stores it in *slot. Returns 0 or -1. */
static int mod_add_exception(PyObject *module, PyObject **slot, const char *name,
                             const char *doc, PyObject *bases, PyObject *dict) {
    char qualified[64];
    snprintf(qualified, sizeof qualified, "pymport_py.%s", name);
    *slot = PyErr_NewExceptionWithDoc(qualified, doc, bases, dict);
    if (!*slot) return -1;
    return PyModule_AddObjectRef(module, name, *slot);
}

static int mod_exec(PyObject *module) {
    mod_state *st = mod_get_state(module);
    PyObject *bases = NULL, *datetime = NULL, *utc = NULL;
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_ImportError,
                        "pymport_py runs only in the main interpreter (Node's state is process-wide)");
        return -1;
    }
    /* Python loaded this extension, and with it libnode, RTLD_LOCAL. Native
     * addons resolve napi_* in the global scope, or die with "undefined
     * symbol: napi_create_function": make our libnode global. It is found by
     * one of its symbols, not by name: a repaired wheel may rename it. */
    Dl_info libnode;
    if (!dladdr((void *)napi_create_function, &libnode) || !libnode.dli_fname ||
        !dlopen(libnode.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) {
        PyErr_Format(PyExc_ImportError, "cannot make libnode (%s) global: %s", EM_LIBNODE_SONAME,
                     dlerror());
        return -1;
    }
    if (PyModule_AddStringConstant(module, "_libnode_soname", EM_LIBNODE_SONAME) < 0) goto error;
    if (jsp_setup_types(module) < 0) goto error;
    if (jf_setup_type(module) < 0) goto error;
    if (env_setup_types(module) < 0) goto error;
    if (!(st->NullType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &null_spec, NULL))) goto error;
    if (!(st->null = PyType_GenericAlloc(st->NullType, 0))) goto error;
    if (PyModule_AddObjectRef(module, "null", st->null) < 0) goto error;
    if (!(st->RefType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ref_spec, NULL))) goto error;
    if (PyModule_AddObjectRef(module, "ref", (PyObject *)st->RefType) < 0) goto error;
    if (lv_setup_type(module) < 0) goto error;
    PyObject *fwd_type = PyType_FromModuleAndSpec(module, &fwd_spec, NULL);
    if (!fwd_type || PyModule_AddObject(module, "_forwarding", fwd_type) < 0) {
        Py_XDECREF(fwd_type);
        goto error;
    }

    /* What a JS error carries; None on one made in Python. */
    PyObject *fields = Py_BuildValue("{sOsOsOsOsO}", "name", Py_None, "message", Py_None, "stack",
                                     Py_None, "value", Py_None, "code", Py_None);
    if (!fields) goto error;
    int added = mod_add_exception(
        module, &st->JSError, "JSError",
        "An exception thrown by JavaScript.\n\n.name, .message and .stack are the JS error's; .code "
        "its string `code` (as 'MODULE_NOT_FOUND'), or None; .value the thrown JS value.",
        PyExc_Exception, fields);
    Py_DECREF(fields);
    if (added < 0) goto error;
#define MOD_SUB(slot, name, doc, pybase)                                          \
    do {                                                                          \
        if (!(bases = PyTuple_Pack(2, st->JSError, pybase))) goto error;          \
        if (mod_add_exception(module, &st->slot, name, doc, bases, NULL) < 0) goto error; \
        Py_CLEAR(bases);                                                          \
    } while (0)
    MOD_SUB(JSTypeError, "JSTypeError", "A JavaScript TypeError.", PyExc_TypeError);
    MOD_SUB(JSRangeError, "JSRangeError", "A JavaScript RangeError.", PyExc_ValueError);
    MOD_SUB(JSSyntaxError, "JSSyntaxError", "A JavaScript SyntaxError.", PyExc_SyntaxError);
    MOD_SUB(JSReferenceError, "JSReferenceError", "A JavaScript ReferenceError.", PyExc_NameError);
#undef MOD_SUB
    if (mod_add_exception(module, &st->ProcessExit, "ProcessExit",
                          "process.exit(code) was called in JavaScript; .code is the exit code.",
                          PyExc_SystemExit, NULL) < 0)
        goto error;
    if (mod_add_exception(module, &st->JSComparisonWarning, "JSComparisonWarning",
                          "A JSObject was compared with a dict, list, tuple or set: == compares "
                          "JavaScript identity, never contents; compare its .to_py().",
                          PyExc_UserWarning, NULL) < 0)
        goto error;
    if (mod_add_exception(module, &st->EnvironmentClosed, "EnvironmentClosed",
                          "The Node environment was shut down (or stopped by process.exit).",
                          PyExc_RuntimeError, NULL) < 0)
        goto error;

    if (!(datetime = PyImport_ImportModule("datetime"))) goto error;
    if (!(st->timedelta = PyObject_GetAttrString(datetime, "timedelta"))) goto error;
    PyObject *tz = PyObject_GetAttrString(datetime, "timezone");
    if (!tz) goto error;
    utc = PyObject_GetAttrString(tz, "utc");
    Py_DECREF(tz);
    if (!utc) goto error;
    st->epoch = PyObject_CallMethod(datetime, "datetime", "iiiiiiiO", 1970, 1, 1, 0, 0, 0, 0, utc);
    if (!st->epoch) goto error;
    Py_DECREF(datetime);
    Py_DECREF(utc);
    datetime = utc = NULL;

    PyObject *threading = PyImport_ImportModule("threading");
    if (!threading) goto error;
    PyObject *main = PyObject_CallMethod(threading, "main_thread", NULL);
    Py_DECREF(threading);
    PyObject *ident = main ? PyObject_GetAttrString(main, "ident") : NULL;
    Py_XDECREF(main);
    if (!ident) goto error;
    ir_set_main_thread(PyLong_AsUnsignedLong(ident));
    Py_DECREF(ident);
    if (PyErr_Occurred()) goto error;

    if (!(st->concurrent_futures_name = PyUnicode_InternFromString("concurrent.futures")))
        goto error;
    return 0;
error:
    Py_XDECREF(bases);
    Py_XDECREF(datetime);
    Py_XDECREF(utc);
    return -1;
}

static int mod_traverse(PyObject *module, visitproc visit, void *arg) {
    mod_state *st = mod_get_state(module);
    Py_VISIT(st->JSObjectType);
    Py_VISIT(st->JSIteratorType);
    Py_VISIT(st->jsobject_type_names);
    Py_VISIT(st->EnvironmentType);
    Py_VISIT(st->NullType);
    Py_VISIT(st->RefType);
    Py_VISIT(st->LiveType);
    Py_VISIT(st->JSFunctionType);
    Py_VISIT(st->js_functions);
    Py_VISIT(st->JSError);
    Py_VISIT(st->JSTypeError);
    Py_VISIT(st->JSRangeError);
    Py_VISIT(st->JSSyntaxError);
    Py_VISIT(st->JSReferenceError);
    Py_VISIT(st->ProcessExit);
    Py_VISIT(st->EnvironmentClosed);
    Py_VISIT(st->JSComparisonWarning);
    Py_VISIT(st->null);
    Py_VISIT(st->epoch);
    Py_VISIT(st->timedelta);
    Py_VISIT(st->JSFuture);
    Py_VISIT(st->ConcurrentFuture);
    Py_VISIT(st->to_concurrent_future);
    Py_VISIT(st->await_future);
    Py_VISIT(st->settled);
    Py_VISIT(st->call_in_thread);
    Py_VISIT(st->concurrent_futures_name);
    for (int i = 0; i < 5; i++) Py_VISIT(st->future_states[i]);
    Py_VISIT(st->CancelledError);
    Py_VISIT(st->key_state);
    Py_VISIT(st->key_result);
    Py_VISIT(st->key_exception);
    Py_VISIT(st->key_source);
    Py_VISIT(st->key_condition);
    Py_VISIT(st->key_callbacks);
    Py_VISIT(st->key_waited);
    return 0;
}

static int mod_clear(PyObject *module) {
    mod_state *st = mod_get_state(module);
    Py_CLEAR(st->JSObjectType);
    Py_CLEAR(st->JSIteratorType);
    Py_CLEAR(st->jsobject_type_names);
    Py_CLEAR(st->EnvironmentType);
    Py_CLEAR(st->NullType);
    Py_CLEAR(st->RefType);
    Py_CLEAR(st->LiveType);
    Py_CLEAR(st->JSFunctionType);
    Py_CLEAR(st->js_functions);
    Py_CLEAR(st->JSError);
    Py_CLEAR(st->JSTypeError);
    Py_CLEAR(st->JSRangeError);
    Py_CLEAR(st->JSSyntaxError);
    Py_CLEAR(st->JSReferenceError);
    Py_CLEAR(st->ProcessExit);
    Py_CLEAR(st->EnvironmentClosed);
    Py_CLEAR(st->JSComparisonWarning);
    Py_CLEAR(st->null);
    Py_CLEAR(st->epoch);
    Py_CLEAR(st->timedelta);
    Py_CLEAR(st->JSFuture);
    Py_CLEAR(st->ConcurrentFuture);
    Py_CLEAR(st->to_concurrent_future);
    Py_CLEAR(st->await_future);
    Py_CLEAR(st->settled);
    Py_CLEAR(st->call_in_thread);
    Py_CLEAR(st->concurrent_futures_name);
    for (int i = 0; i < 5; i++) Py_CLEAR(st->future_states[i]);
    Py_CLEAR(st->CancelledError);
    Py_CLEAR(st->key_state);
    Py_CLEAR(st->key_result);
    Py_CLEAR(st->key_exception);
    Py_CLEAR(st->key_source);
    Py_CLEAR(st->key_condition);
    Py_CLEAR(st->key_callbacks);
    Py_CLEAR(st->key_waited);
    return 0;
}

static void mod_free(void *module) { mod_clear((PyObject *)module); }

static PyModuleDef_Slot mod_slots[] = {
    {Py_mod_exec, mod_exec},
#ifdef Py_mod_multiple_interpreters
    /* Node's state is process-wide (module.h). */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL},
};

PyModuleDef mod_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pymport_py._pymport",
    .m_doc = "Node.js embedded in CPython (see the pymport_py package).",
    .m_size = sizeof(mod_state),
    .m_slots = mod_slots,
    .m_methods = mod_methods,
    .m_traverse = mod_traverse,
    .m_clear = mod_clear,
    .m_free = mod_free,
};

PyMODINIT_FUNC PyInit__pymport(void) { return PyModuleDef_Init(&mod_def); }
