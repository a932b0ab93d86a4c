/* jsfunction.c - pymport.js_function, the Python callable that a JS function
 * becomes when it reaches Python through pymport's JS API (PyObject.fromJS,
 * PyObject.func, the arguments of call() ...).
 *
 * It is called as pymport calls JS functions: every positional argument is a
 * PyObject, keyword arguments come in one trailing plain object of PyObjects,
 * and the return value converts back deeply as the JS API's arguments do (a
 * plain object becomes a dict, a PyObject its Python object). The JS function
 * itself is held by a JSObject, so calls from any Python thread take the
 * environment's Node lock like any JSObject's. Python's own API (JSObject)
 * keeps the rules of docs/conversions.md. */
#include "jsfunction.h"

#include "calls.h"
#include "convert.h"
#include "errors.h"
#include "jsproxy.h"
#include "nodelock.h"
#include "pyproxy.h"

#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *fn;          /* set once: the JSObject of the JS function (strong) */
    PyObject *weakreflist; /* GIL */
} jf_object;

/* One js_function per JS function while it is alive (st->js_functions), so
 * that the same function reaches Python as the same callable. */
PyObject *jf_new(mod_state *st, PyObject *fn) {
    PyObject *known = PyObject_GetItem(st->js_functions, fn);
    if (known || !PyErr_ExceptionMatches(PyExc_KeyError)) return known;
    PyErr_Clear();
    jf_object *o = (jf_object *)st->JSFunctionType->tp_alloc(st->JSFunctionType, 0); /* tracked */
    if (!o) return NULL;
    o->fn = Py_NewRef(fn);
    if (PyObject_SetItem(st->js_functions, fn, (PyObject *)o) < 0) Py_CLEAR(o);
    return (PyObject *)o;
}

int jf_check(mod_state *st, PyObject *obj) { return PyObject_TypeCheck(obj, st->JSFunctionType); }

int jf_value(rt_env *env, PyObject *obj, napi_value *out) {
    return jsp_value(env, ((jf_object *)obj)->fn, out);
}

/* A call's argument: a JS value for a JSObject or js_function, else the
 * object's PyObject. */
static int jf_arg(rt_env *env, PyObject *obj, napi_value *out) {
    mod_state *st = rt_state_of(env);
    if (jsp_check(st, obj) || jf_check(st, obj)) return cv_to_js(env, obj, CV_ARG, out);
    return pyp_wrap_as(env, obj, PYP_OBJECT, out);
}

/* The trailing object of keyword arguments: names to PyObjects. */
static int jf_kwargs(rt_env *env, PyObject *kwargs, napi_value *out) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    NAPI_OK(env, napi_create_object(env->napi, out));
    while (PyDict_Next(kwargs, &pos, &key, &value)) {
        napi_value k, v;
        if (cv_to_js(env, key, CV_ARG, &k) < 0 || jf_arg(env, value, &v) < 0) return -1;
        NAPI_OK(env, napi_set_property(env->napi, *out, k, v));
    }
    return 0;
error:
    return -1;
}

/* What a JS function throws reaches Python as pymport has it: an Exception
 * with the JS error's message (the JSError as its __cause__, for its stack).
 * A Python exception that went through JS, a RangeError (the stack overflow
 * among them), a thrown value that is no Error, and the stops
 * (EnvironmentClosed, interrupts) stay as they are.
 * GIL held, an exception set. */
static void jf_as_pymport_exception(mod_state *st) {
    PyObject *exc = cp_err_take();
    /* JS's stack overflow keeps its type: a limit reached, not the function's
     * error, and what the caller may need to recognise. */
    if (!exc || !PyObject_TypeCheck(exc, (PyTypeObject *)st->JSError) ||
        PyObject_TypeCheck(exc, (PyTypeObject *)st->JSRangeError)) {
        cp_err_restore(exc);
        return;
    }
    /* `name` is None for a thrown non-Error, and for one that could not be
     * described (no stack left): those stay JSErrors, with what they keep. */
    PyObject *name = PyObject_GetAttrString(exc, "name");
    PyObject *message = name && name != Py_None ? PyObject_GetAttrString(exc, "message") : NULL;
    PyObject *plain = message && PyUnicode_Check(message)
                          ? PyObject_CallOneArg(PyExc_Exception, message) : NULL;
    Py_XDECREF(name);
    Py_XDECREF(message);
    if (!plain) {
        PyErr_Clear();
        cp_err_restore(exc);
        return;
    }
    PyException_SetCause(plain, exc); /* steals exc */
    PyErr_SetObject(PyExc_Exception, plain);
    Py_DECREF(plain);
}

static PyObject *jf_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    jsp_object *fn = (jsp_object *)((jf_object *)self)->fn;
    rt_env *env = fn->env;
    nl_frame frame;
    PyObject *res = NULL;
    napi_value small[8], *argv = small, f, recv, out;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    Py_ssize_t total = n + (kwargs && PyDict_GET_SIZE(kwargs) ? 1 : 0);
    if (nl_enter_with_gil(env, &frame) < 0) return NULL;
    if (total > 8 && !(argv = PyMem_Malloc((size_t)total * sizeof *argv))) {
        PyErr_NoMemory();
        argv = small;
        goto error;
    }
    if (jsp_value(env, (PyObject *)fn, &f) < 0) goto error;
    for (Py_ssize_t i = 0; i < n; i++)
        if (jf_arg(env, PyTuple_GET_ITEM(args, i), &argv[i]) < 0) goto error;
    if (total > n && jf_kwargs(env, kwargs, &argv[n]) < 0) goto error;
    NAPI_OK(env, napi_get_undefined(env->napi, &recv));
    napi_status status = cl_call(env, recv, f, (size_t)total, argv, &out);
    if (status != napi_ok) {
        er_from_status(env, status);
        jf_as_pymport_exception(rt_state_of(env));
        goto error;
    }
    res = cv_to_py_pymport(env, out);
error:
    if (argv != small) PyMem_Free(argv);
    nl_leave_with_gil(env, &frame);
    return res;
}

static PyObject *jf_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args;
    (void)kwargs;
    PyErr_Format(PyExc_TypeError, "cannot create '%.100s' instances; they come from JavaScript "
                 "functions given to Python through require('pymport')", type->tp_name);
    return NULL;
}

static int jf_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((jf_object *)self)->fn);
    return 0;
}

static int jf_clear(PyObject *self) {
    Py_CLEAR(((jf_object *)self)->fn);
    return 0;
}

static void jf_dealloc(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (((jf_object *)self)->weakreflist) PyObject_ClearWeakRefs(self);
    jf_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyObject *jf_repr(PyObject *self) {
    return PyUnicode_FromFormat("<pymport.js_function %R>", ((jf_object *)self)->fn);
}

static PyMemberDef jf_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(jf_object, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot jf_slots[] = {
    {Py_tp_members, jf_members},
    {Py_tp_doc, "A JavaScript function given to Python through require('pymport'): called with "
                "PyObjects, as pymport calls it (docs/javascript.md)."},
    {Py_tp_new, jf_tp_new},
    {Py_tp_dealloc, jf_dealloc},
    {Py_tp_traverse, jf_traverse},
    {Py_tp_clear, jf_clear},
    {Py_tp_call, jf_call},
    {Py_tp_repr, jf_repr},
    {0, NULL},
};

/* pymport's name for it, which `PyObject.type` shows. */
static PyType_Spec jf_spec = {
    .name = "pymport.js_function",
    .basicsize = sizeof(jf_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = jf_slots,
};

int jf_setup_type(PyObject *module) {
    mod_state *st = mod_get_state(module);
    st->JSFunctionType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &jf_spec, NULL);
    if (!st->JSFunctionType) return -1;
    PyObject *weakref = PyImport_ImportModule("weakref");
    if (!weakref) return -1;
    st->js_functions = PyObject_CallMethod(weakref, "WeakValueDictionary", NULL);
    Py_DECREF(weakref);
    return st->js_functions ? 0 : -1;
}
