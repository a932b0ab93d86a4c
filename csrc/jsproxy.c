/* jsproxy.c - the Python type JSObject: a live view of a JS value.
 *
 * A JSObject holds a strong napi_ref on its environment. The same JS object
 * gives the same JSObject while one is alive (env->objects, keyed by V8's
 * identity hash, protected by the GIL). A function read as an attribute gives
 * a method proxy that calls it with `this` bound (not in the identity map,
 * like Python's bound methods). Every operation takes the Node lock with
 * nl_enter_with_gil, so it may run from any thread. */
#include "jsproxy.h"

#include "async.h"
#include "calls.h"
#include "convert.h"
#include "errors.h"
#include "nodelock.h"
#include "queue.h"

#include <string.h>
#include <structmember.h>

/* ---- creation and identity ---- */

static PyObject *jsp_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                                PyObject *kwnames);

/* Returns a new reference: a new JSObject of v (not registered). */
static jsp_object *jsp_alloc(rt_env *env, napi_value v, uint32_t hash) {
    mod_state *st = rt_state_of(env);
    jsp_object *o = (jsp_object *)st->JSObjectType->tp_alloc(st->JSObjectType, 0);
    if (!o) return NULL;
    o->vectorcall = jsp_vectorcall;
    napi_status status = napi_create_reference(env->napi, v, 1, &o->ref);
    if (status != napi_ok) {
        o->ref = NULL;
        Py_DECREF(o); /* dealloc tolerates a JSObject without env */
        er_from_status(env, status);
        return NULL;
    }
    o->env = env;
    rt_env_incref(env);
    o->hash = hash;
    return o;
}

PyObject *jsp_wrap(rt_env *env, napi_value v) {
    uint32_t hash = em_identity_hash(v);
    for (tb_entry *e = tb_first(&env->objects, hash); e; e = tb_next(e)) {
        jsp_object *o = e->value;
        napi_value known;
        bool same = false;
        if (napi_get_reference_value(env->napi, o->ref, &known) == napi_ok && known &&
            napi_strict_equals(env->napi, v, known, &same) == napi_ok && same)
            return Py_NewRef((PyObject *)o);
    }
    jsp_object *o = jsp_alloc(env, v, hash);
    if (!o) return NULL;
    bool is_promise = false;
    o->unobserved = napi_is_promise(env->napi, v, &is_promise) == napi_ok && is_promise;
    if (tb_insert(&env->objects, hash, o) < 0) {
        Py_DECREF(o);
        return PyErr_NoMemory();
    }
    return (PyObject *)o;
}

PyObject *jsp_wrap_bound(rt_env *env, napi_value fn, PyObject *self) {
    jsp_object *o = jsp_alloc(env, fn, em_identity_hash(fn));
    if (!o) return NULL;
    o->bound_this = Py_NewRef(self);
    return (PyObject *)o;
}

int jsp_check(mod_state *st, PyObject *obj) { return PyObject_TypeCheck(obj, st->JSObjectType); }

int jsp_value(rt_env *env, PyObject *obj, napi_value *out) {
    jsp_object *o = (jsp_object *)obj;
    if (o->env != env) {
        PyErr_SetString(PyExc_ValueError,
                        "this JavaScript object belongs to another Node environment; copy it "
                        "into this one with adopt() (pymport_py.adopt(obj) for the main "
                        "environment, worker.adopt(obj) for a Worker) or to_py()");
        return -1;
    }
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, out));
    o->unobserved = 0; /* JS has it again, and may handle it */
    return 0;
error:
    return -1;
}

/* ---- the operations: each takes the Node lock for its duration ---- */

#define JSP_ENTER(o, frame, failure)                              \
    do {                                                          \
        if (nl_enter_with_gil((o)->env, &(frame)) < 0) return (failure);   \
    } while (0)

/* Converts a Python key (str, int, or a JSObject such as a symbol) to a JS
 * property key. Returns 0 or -1. */
static int jsp_key(rt_env *env, PyObject *key, napi_value *out) {
    if (PyUnicode_CheckExact(key)) return cv_key_to_js(env, key, out);
    if (PyUnicode_Check(key) || PyLong_Check(key) || jsp_check(rt_state_of(env), key))
        return cv_to_js(env, key, CV_ARG, out);
    PyErr_Format(PyExc_TypeError, "JavaScript property keys are str, int or symbols, not %.100s",
                 Py_TYPE(key)->tp_name);
    return -1;
}

/* Returns a new reference: the value of property `key`; when it is missing
 * (undefined and not `in` the object) raises `missing` with the key. */
static PyObject *jsp_get(jsp_object *o, PyObject *key, PyObject *missing, int bind) {
    rt_env *env = o->env;
    nl_frame frame;
    PyObject *res = NULL;
    napi_value obj, k, v;
    napi_valuetype type;
    JSP_ENTER(o, frame, NULL);
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &obj));
    if (jsp_key(env, key, &k) < 0) goto error;
    NAPI_OK(env, napi_get_property(env->napi, obj, k, &v));
    type = em_typeof(v);
    if (type == napi_undefined) {
        bool has = false;
        NAPI_OK(env, napi_has_property(env->napi, obj, k, &has));
        if (!has) {
            if (missing == PyExc_AttributeError)
                PyErr_Format(missing, "JavaScript object has no property %R", key);
            else
                PyErr_SetObject(missing, key);
            goto error;
        }
    }
    if (bind && type == napi_function)
        res = jsp_wrap_bound(env, v, (PyObject *)o);
    else
        res = cv_to_py(env, v);
error:
    nl_leave_with_gil(env, &frame);
    return res;
}

/* Attributes of the JSObject type (methods such as to_py, dunders) win over
 * JS properties of the same name. */
static PyObject *jsp_getattro(PyObject *self, PyObject *name) {
    if (!PyUnicode_Check(name) ||
        PySet_Contains(mod_state_of_type(Py_TYPE(self))->jsobject_type_names, name) != 0)
        return PyObject_GenericGetAttr(self, name);
    return jsp_get((jsp_object *)self, name, PyExc_AttributeError, 1);
}

/* Sets (value != NULL) or deletes a property. Returns 0 or -1. */
static int jsp_set(jsp_object *o, PyObject *key, PyObject *value) {
    rt_env *env = o->env;
    nl_frame frame;
    int rc = -1;
    napi_value obj, k, v;
    JSP_ENTER(o, frame, -1);
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &obj));
    if (jsp_key(env, key, &k) < 0) goto error;
    if (value) {
        if (cv_to_js(env, value, CV_ARG, &v) < 0) goto error;
        NAPI_OK(env, napi_set_property(env->napi, obj, k, v));
    } else {
        bool deleted;
        NAPI_OK(env, napi_delete_property(env->napi, obj, k, &deleted));
    }
    rc = 0;
error:
    nl_leave_with_gil(env, &frame);
    return rc;
}

static int jsp_setattro(PyObject *self, PyObject *name, PyObject *value) {
    if (!PyUnicode_Check(name)) return PyObject_GenericSetAttr(self, name, value);
    return jsp_set((jsp_object *)self, name, value);
}

static PyObject *jsp_getitem(PyObject *self, PyObject *key) {
    jsp_object *o = (jsp_object *)self;
    PyObject *missing = PyExc_KeyError;
    if (PyLong_Check(key)) {
        /* An int index of an Array that is out of range is an IndexError. */
        nl_frame frame;
        bool is_array = false;
        napi_value obj;
        JSP_ENTER(o, frame, NULL);
        if (napi_get_reference_value(o->env->napi, o->ref, &obj) == napi_ok)
            napi_is_array(o->env->napi, obj, &is_array);
        nl_leave_with_gil(o->env, &frame);
        if (is_array) missing = PyExc_IndexError;
    }
    return jsp_get(o, key, missing, 0);
}

static int jsp_setitem(PyObject *self, PyObject *key, PyObject *value) {
    return jsp_set((jsp_object *)self, key, value);
}

static int jsp_contains(PyObject *self, PyObject *key) {
    jsp_object *o = (jsp_object *)self;
    rt_env *env = o->env;
    nl_frame frame;
    int rc = -1;
    napi_value obj, k;
    bool has = false;
    JSP_ENTER(o, frame, -1);
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &obj));
    if (jsp_key(env, key, &k) < 0) goto error;
    NAPI_OK(env, napi_has_property(env->napi, obj, k, &has));
    rc = has;
error:
    nl_leave_with_gil(env, &frame);
    return rc;
}

/* Calls helper h on the object itself; returns a new reference to the
 * converted result, or NULL. */
static PyObject *jsp_helper(jsp_object *o, rt_helper h) {
    rt_env *env = o->env;
    nl_frame frame;
    PyObject *res = NULL;
    napi_value obj, out;
    JSP_ENTER(o, frame, NULL);
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &obj));
    NAPI_OK(env, cl_call_helper(env, h, 1, &obj, &out));
    res = cv_to_py(env, out);
error:
    nl_leave_with_gil(env, &frame);
    return res;
}

typedef enum { JSP_LENGTH_OK, JSP_LENGTH_NONE, JSP_LENGTH_NEGATIVE } jsp_length_kind;

/* The integral `length` or `size` of the object into *len. Returns what it
 * found, or -1 on error (a length past Py_ssize_t is an OverflowError). */
static int jsp_length(jsp_object *o, Py_ssize_t *len) {
    PyObject *n = jsp_helper(o, RT_H_LENGTH);
    if (!n) return -1;
    int kind = JSP_LENGTH_NONE;
    if (PyLong_Check(n)) {
        *len = PyLong_AsSsize_t(n);
        if (*len == -1 && PyErr_Occurred()) kind = -1;
        else kind = *len < 0 ? JSP_LENGTH_NEGATIVE : JSP_LENGTH_OK;
    }
    Py_DECREF(n);
    return kind;
}

static Py_ssize_t jsp_len(PyObject *self) {
    Py_ssize_t n = 0;
    switch (jsp_length((jsp_object *)self, &n)) {
    case JSP_LENGTH_OK: return n;
    case JSP_LENGTH_NONE:
        PyErr_SetString(PyExc_TypeError, "this JavaScript object has no length or size");
        return -1;
    case JSP_LENGTH_NEGATIVE:
        PyErr_Format(PyExc_ValueError, "this JavaScript object's length is negative (%zd)", n);
        return -1;
    default: return -1;
    }
}

static int jsp_bool(PyObject *self) {
    Py_ssize_t n = 0;
    switch (jsp_length((jsp_object *)self, &n)) {
    case JSP_LENGTH_OK: return n != 0;
    case -1: return -1;
    default: return 1; /* objects without a valid length are truthy, as in JS */
    }
}

static PyObject *jsp_repr(PyObject *self) {
    jsp_object *o = (jsp_object *)self;
    if (atomic_load(&o->env->state) != RT_RUNNING)
        return PyUnicode_FromString("<JSObject of a closed Node environment>");
    return jsp_helper(o, RT_H_INSPECT);
}

/* str(): String(o), or util.inspect(o) for objects that have no string form
 * (Object.create(null), module namespaces). */
static PyObject *jsp_str(PyObject *self) {
    jsp_object *o = (jsp_object *)self;
    if (atomic_load(&o->env->state) != RT_RUNNING) return jsp_repr(self);
    return jsp_helper(o, RT_H_STR);
}

static Py_hash_t jsp_hash(PyObject *self) {
    Py_hash_t h = (Py_hash_t)((jsp_object *)self)->hash;
    return h == -1 ? -2 : h;
}

static PyObject *jsp_richcompare(PyObject *self, PyObject *other, int op) {
    jsp_object *o = (jsp_object *)self;
    mod_state *st = rt_state_of(o->env);
    if ((op == Py_EQ || op == Py_NE) &&
        (PyDict_Check(other) || PyList_Check(other) || PyTuple_Check(other) || PyAnySet_Check(other))) {
        /* False, as for any two objects of unrelated types: say why, since the
         * JS value may well hold the same items. */
        if (PyErr_WarnFormat(st->JSComparisonWarning, 1,
                             "a JSObject is never equal to a %.50s: == compares JavaScript "
                             "identity; compare obj.to_py() with it instead",
                             Py_TYPE(other)->tp_name) < 0)
            return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    if ((op != Py_EQ && op != Py_NE) || !jsp_check(st, other))
        Py_RETURN_NOTIMPLEMENTED;
    jsp_object *p = (jsp_object *)other;
    /* One JSObject per JS value (jsp_wrap) but for method proxies: two others
     * are two values, which dict and set lookups ask about from any thread
     * (a worker_thread's JSObjects included) when identity hashes collide. */
    if (self == other || p->env != o->env || p->hash != o->hash || (!o->bound_this && !p->bound_this)) {
        int eq = self == other;
        return PyBool_FromLong(op == Py_EQ ? eq : !eq);
    }
    rt_env *env = o->env;
    nl_frame frame;
    PyObject *res = NULL;
    napi_value a, b;
    bool same = false;
    JSP_ENTER(o, frame, NULL);
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &a));
    NAPI_OK(env, napi_get_reference_value(env->napi, p->ref, &b));
    NAPI_OK(env, napi_strict_equals(env->napi, a, b, &same));
    res = PyBool_FromLong(op == Py_EQ ? same : !same);
error:
    nl_leave_with_gil(env, &frame);
    return res;
}

int jsp_check_function(rt_env *env, napi_value fn, int construct) {
    (void)env;
    if (em_typeof(fn) == napi_function) return 0;
    PyErr_SetString(PyExc_TypeError, construct ? "this JavaScript object is not a constructor"
                                               : "this JavaScript object is not callable");
    return -1;
}

Py_ssize_t jsp_convert_args(rt_env *env, PyObject *args, PyObject *kwargs, napi_value *small,
                            Py_ssize_t nsmall, napi_value **argv) {
    return jsp_convert_argv(env, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), kwargs, small,
                            nsmall, argv);
}

Py_ssize_t jsp_convert_argv(rt_env *env, PyObject *const *items, Py_ssize_t n, PyObject *kwargs,
                            napi_value *small, Py_ssize_t nsmall, napi_value **argv) {
    Py_ssize_t total = n + (kwargs && PyDict_GET_SIZE(kwargs) ? 1 : 0);
    *argv = total <= nsmall ? small : PyMem_Malloc((size_t)total * sizeof **argv);
    if (!*argv) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (cv_to_js(env, items[i], CV_ARG, &(*argv)[i]) < 0) goto error;
    if (total > n && cv_to_js(env, kwargs, CV_ARG, &(*argv)[n]) < 0) goto error;
    return total;
error:
    /* The callers free *argv when it is not `small`: leave nothing for them. */
    if (*argv != small) PyMem_Free(*argv);
    *argv = small;
    return -1;
}

/* Calls (construct = 0) or constructs the function `fn`. */
/* Calls (or, with `construct`, constructs) o with the n arguments at items
 * and the keyword arguments, if any, as a last options object. */
static PyObject *jsp_invoke(jsp_object *o, PyObject *const *items, Py_ssize_t n, PyObject *kwargs,
                            int construct) {
    rt_env *env = o->env;
    nl_frame frame;
    PyObject *res = NULL;
    napi_value small[8], *argv = small, fn, recv, out;
    Py_ssize_t argc = 0;
    JSP_ENTER(o, frame, NULL);
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &fn));
    if (jsp_check_function(env, fn, construct) < 0) goto error;
    if ((argc = jsp_convert_argv(env, items, n, kwargs, small, 8, &argv)) < 0) goto error;
    if (construct) {
        NAPI_OK(env, cl_construct(env, fn, (size_t)argc, argv, &out));
    } else {
        if (o->bound_this) {
            if (jsp_value(env, o->bound_this, &recv) < 0) goto error;
        } else {
            NAPI_OK(env, napi_get_undefined(env->napi, &recv));
        }
        NAPI_OK(env, cl_call(env, recv, fn, (size_t)argc, argv, &out));
    }
    res = cv_to_py(env, out);
error:
    if (argv != small) PyMem_Free(argv);
    nl_leave_with_gil(env, &frame);
    return res;
}

static PyObject *jsp_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    return jsp_invoke((jsp_object *)self, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), kwargs, 0);
}

/* The same call without the argument tuple that tp_call needs. */
static PyObject *jsp_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                                PyObject *kwnames) {
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (!kwnames || !PyTuple_GET_SIZE(kwnames)) return jsp_invoke((jsp_object *)self, args, n, NULL, 0);
    PyObject *kwargs = PyDict_New();
    if (!kwargs) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
        if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i), args[n + i]) < 0) {
            Py_DECREF(kwargs);
            return NULL;
        }
    }
    PyObject *res = jsp_invoke((jsp_object *)self, args, n, kwargs, 0);
    Py_DECREF(kwargs);
    return res;
}

static PyObject *jsp_new_method(PyObject *self, PyObject *args, PyObject *kwargs) {
    return jsp_invoke((jsp_object *)self, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), kwargs, 1);
}

static PyObject *jsp_call_async(PyObject *self, PyObject *args, PyObject *kwargs) {
    return as_call_async(self, args, kwargs);
}

/* `await o`: the outcome of a promise or thenable, else the value itself. */
static PyObject *jsp_await(PyObject *self) { return as_await(self); }

static PyObject *jsp_to_py(PyObject *self, PyObject *unused) {
    (void)unused;
    jsp_object *o = (jsp_object *)self;
    rt_env *env = o->env;
    nl_frame frame;
    PyObject *res = NULL;
    napi_value v;
    JSP_ENTER(o, frame, NULL);
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &v));
    res = cv_to_py_deep(env, v);
error:
    nl_leave_with_gil(env, &frame);
    return res;
}

static PyObject *jsp_result(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:result", kwlist, &timeout_obj)) return NULL;
    double timeout = -1; /* forever */
    if (timeout_obj != Py_None && as_parse_timeout(timeout_obj, &timeout) < 0) return NULL;
    return as_result(self, timeout);
}

static PyObject *jsp_dir(PyObject *self, PyObject *unused) {
    (void)unused;
    PyObject *keys = NULL, *names = NULL, *res = NULL;
    PyObject *js = jsp_helper((jsp_object *)self, RT_H_KEYS);
    if (!js) return NULL;
    if (!(keys = PyObject_CallMethod(js, "to_py", NULL))) goto done;
    if (!(names = PyObject_Dir((PyObject *)Py_TYPE(self)))) goto done;
    if (!(res = PySequence_List(keys))) goto done;
    PyObject *extended = PyObject_CallMethod(res, "extend", "O", names);
    if (!extended) Py_CLEAR(res);
    Py_XDECREF(extended);
done:
    Py_XDECREF(js);
    Py_XDECREF(keys);
    Py_XDECREF(names);
    return res;
}

/* ---- iteration ---- */

typedef struct {
    PyObject_HEAD
    PyObject *iterator; /* JSObject of the JS iterator */
} jsp_iterator;

static PyObject *jsp_iter(PyObject *self) {
    mod_state *st = rt_state_of(((jsp_object *)self)->env);
    PyObject *it = jsp_helper((jsp_object *)self, RT_H_ITER);
    if (!it) return NULL;
    if (!jsp_check(st, it)) { /* a JS iterator is an object (the helper checks it too) */
        Py_DECREF(it);
        PyErr_SetString(PyExc_TypeError, "Result of the Symbol.iterator method is not an object");
        return NULL;
    }
    /* tp_alloc (PyType_GenericAlloc) returns it zeroed and tracked. */
    jsp_iterator *res = (jsp_iterator *)st->JSIteratorType->tp_alloc(st->JSIteratorType, 0);
    if (!res) {
        Py_DECREF(it);
        return NULL;
    }
    res->iterator = it;
    return (PyObject *)res;
}

static PyObject *jspi_next(PyObject *self) {
    jsp_object *it = (jsp_object *)((jsp_iterator *)self)->iterator;
    if (!it) return NULL;
    rt_env *env = it->env;
    nl_frame frame;
    PyObject *res = NULL;
    napi_value args[2], out;
    bool done = false;
    JSP_ENTER(it, frame, NULL);
    NAPI_OK(env, napi_get_reference_value(env->napi, it->ref, &args[0]));
    args[1] = cl_helper_value(env, RT_H_DONE);
    NAPI_OK(env, cl_call_helper(env, RT_H_NEXT, 2, args, &out));
    NAPI_OK(env, napi_strict_equals(env->napi, out, args[1], &done));
    if (done)
        Py_CLEAR(((jsp_iterator *)self)->iterator);
    else
        res = cv_to_py(env, out);
error:
    nl_leave_with_gil(env, &frame);
    return res;
}

static int jspi_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((jsp_iterator *)self)->iterator);
    return 0;
}

static int jspi_clear(PyObject *self) {
    Py_CLEAR(((jsp_iterator *)self)->iterator);
    return 0;
}

static void jspi_dealloc(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    jspi_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

/* ---- buffer protocol ---- */

/* A view's shape and strides, and what keeps its memory alive (view->internal). */
typedef struct {
    Py_ssize_t shape;
    Py_ssize_t stride;
    em_memory_hold *memory;
} jsp_dims;

static int jsp_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    static char empty[1];
    jsp_object *o = (jsp_object *)self;
    rt_env *env = o->env;
    nl_frame frame;
    int rc = -1;
    napi_value v;
    bool is = false;
    void *data = NULL;
    size_t len = 0, itemsize = 1;
    const char *format = "B";
    JSP_ENTER(o, frame, -1);
    NAPI_OK(env, napi_get_reference_value(env->napi, o->ref, &v));
    if (napi_is_typedarray(env->napi, v, &is) == napi_ok && is) {
        napi_typedarray_type type;
        size_t length;
        NAPI_OK(env, napi_get_typedarray_info(env->napi, v, &type, &length, &data, NULL, NULL));
        switch (type) {
        case napi_int8_array: format = "b"; break;
        case napi_uint8_array: case napi_uint8_clamped_array: format = "B"; break;
        case napi_int16_array: format = "h"; itemsize = 2; break;
        case napi_uint16_array: format = "H"; itemsize = 2; break;
        case napi_int32_array: format = "i"; itemsize = 4; break;
        case napi_uint32_array: format = "I"; itemsize = 4; break;
        case napi_float32_array: format = "f"; itemsize = 4; break;
        case napi_float64_array: format = "d"; itemsize = 8; break;
        case napi_bigint64_array: format = "q"; itemsize = 8; break;
        case napi_biguint64_array: format = "Q"; itemsize = 8; break;
#ifdef NODE_API_HAS_FLOAT16_ARRAY
        case napi_float16_array: format = "e"; itemsize = 2; break;
#endif
        }
        len = length * itemsize;
    } else if (napi_is_arraybuffer(env->napi, v, &is) == napi_ok && is) {
        NAPI_OK(env, napi_get_arraybuffer_info(env->napi, v, &data, &len));
    } else if (napi_is_dataview(env->napi, v, &is) == napi_ok && is) {
        NAPI_OK(env, napi_get_dataview_info(env->napi, v, &len, &data, NULL, NULL));
    } else {
        PyErr_SetString(PyExc_BufferError,
                        "only ArrayBuffer, typed arrays, Buffer and DataView support the buffer protocol");
        goto error;
    }
    jsp_dims *dims = PyMem_Malloc(sizeof *dims);
    if (!dims) {
        PyErr_NoMemory();
        goto error;
    }
    /* The view outlives what JS does with the buffer (a transfer, the isolate's
     * end): it holds the memory itself. */
    dims->memory = NULL;
    if (len && !(dims->memory = em_hold_memory(v))) {
        PyMem_Free(dims);
        PyErr_NoMemory();
        goto error;
    }
    dims->shape = (Py_ssize_t)(len / itemsize);
    dims->stride = (Py_ssize_t)itemsize;
    view->buf = data ? data : empty;
    view->obj = Py_NewRef(self);
    view->len = (Py_ssize_t)len;
    view->readonly = 0;
    view->itemsize = (Py_ssize_t)itemsize;
    view->format = (flags & PyBUF_FORMAT) ? (char *)format : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) ? &dims->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? &dims->stride : NULL;
    view->suboffsets = NULL;
    view->internal = dims;
    rc = 0;
error:
    nl_leave_with_gil(env, &frame);
    return rc;
}

static void jsp_releasebuffer(PyObject *self, Py_buffer *view) {
    jsp_dims *dims = view->internal;
    /* The memory's allocator goes with its isolate (on Node 24 freeing it
     * later crashes): a view released after its environment was torn down
     * leaves the memory to the process. */
    if (atomic_load(&((jsp_object *)self)->env->state) != RT_DEAD) em_release_memory(dims->memory);
    PyMem_Free(dims);
}

/* ---- lifetime ---- */

static int jsp_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((jsp_object *)self)->bound_this);
    return 0;
}

static int jsp_clear(PyObject *self) {
    Py_CLEAR(((jsp_object *)self)->bound_this);
    return 0;
}

/* A promise that Python dropped without observing it, for the bootstrap's
 * `dropped` (which reports it if it rejected); then the reference goes. */
typedef struct {
    tq_task base;
    napi_ref ref; /* strong */
} jsp_drop;

static void jsp_drop_run(rt_env *env, tq_task *task) {
    jsp_drop *d = (jsp_drop *)task;
    napi_handle_scope hscope;
    napi_value p, ignored;
    if (napi_open_handle_scope(env->napi, &hscope) == napi_ok) {
        napi_status status = napi_get_reference_value(env->napi, d->ref, &p);
        if (status == napi_ok) status = cl_call_helper(env, RT_H_DROPPED, 1, &p, &ignored);
        if (status != napi_ok && er_from_status(env, status) < 0)
            cp_write_unraisable("in pymport_py, reporting a dropped Promise");
        napi_close_handle_scope(env->napi, hscope);
    }
    napi_delete_reference(env->napi, d->ref);
    PyMem_RawFree(d);
}

/* The environment closed first: its teardown frees the reference. */
static void jsp_drop_cancel(rt_env *env, tq_task *task) {
    (void)env;
    PyMem_RawFree(task);
}

/* Releases o's reference, through `dropped` for an unobserved promise. */
static void jsp_release(jsp_object *o) {
    if (o->unobserved && !rt_is_forked_child()) {
        jsp_drop *d = PyMem_RawMalloc(sizeof *d);
        if (d) {
            d->base.run = jsp_drop_run;
            d->base.cancel = jsp_drop_cancel;
            d->ref = o->ref;
            if (tq_post(o->env, &d->base) == 0) return;
            PyMem_RawFree(d);
        }
    }
    tq_release_ref(o->env, o->ref);
}

static void jsp_dealloc(PyObject *self) {
    jsp_object *o = (jsp_object *)self;
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    /* Out of the identity map first: a weakref callback that converts the same
     * JS value must get a new JSObject, not this dying one. */
    if (o->env && !o->bound_this) tb_remove(&o->env->objects, o->hash, o);
    if (o->weakreflist) PyObject_ClearWeakRefs(self);
    if (o->env) {
        jsp_clear(self);
        jsp_release(o);
        rt_env_decref(o->env);
    }
    type->tp_free(self);
    Py_DECREF(type);
}

static PyObject *jsp_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args;
    (void)kwargs;
    PyErr_Format(PyExc_TypeError, "cannot create '%.100s' instances; JavaScript values come from "
                 "pymport_py.eval, require or to_js", type->tp_name);
    return NULL;
}

/* __reduce__: a JS value cannot leave its process (a process pool's result, a
 * Dask task's): say what to send instead of pickle's "cannot pickle". */
static PyObject *jsp_reduce(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    PyErr_SetString(PyExc_TypeError,
                    "cannot pickle a JSObject: it is a live JavaScript value of this process's "
                    "Node; send plain Python data instead (convert it with .to_py())");
    return NULL;
}

static PyMethodDef jsp_methods[] = {
    {"to_py", jsp_to_py, METH_NOARGS, "Deep copy into Python values (list, dict, set, datetime, bytes ...)."},
    {"new", (PyCFunction)(void (*)(void))jsp_new_method, METH_VARARGS | METH_KEYWORDS,
     "Construct: `new f(*args)` (keyword arguments become one trailing options object)."},
    {"call_async", (PyCFunction)(void (*)(void))jsp_call_async, METH_VARARGS | METH_KEYWORDS,
     "Call on the environment's loop thread; returns at once with an awaitable "
     "concurrent.futures.Future settled with the result (a returned Promise's outcome)."},
    {"result", (PyCFunction)(void (*)(void))jsp_result, METH_VARARGS | METH_KEYWORDS,
     "Block until this Promise or thenable settles (GIL released); return its value or raise."},
    {"__dir__", jsp_dir, METH_NOARGS, NULL},
    {"__reduce__", jsp_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef jsp_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(jsp_object, weakreflist), READONLY, NULL},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(jsp_object, vectorcall), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot jsp_slots[] = {
    {Py_tp_doc, "A live proxy of a JavaScript object, function or symbol (docs/conversions.md).\n\n"
                "Attributes, items, calls, iteration, len(), `in`, `await` and the buffer protocol "
                "act on the JavaScript value. Not instantiable: values come from pymport_py.eval, "
                "require, to_js and calls."},
    {Py_tp_new, jsp_tp_new},
    {Py_tp_dealloc, jsp_dealloc},
    {Py_tp_traverse, jsp_traverse},
    {Py_tp_clear, jsp_clear},
    {Py_tp_getattro, jsp_getattro},
    {Py_tp_setattro, jsp_setattro},
    {Py_tp_repr, jsp_repr},
    {Py_tp_str, jsp_str},
    {Py_tp_hash, jsp_hash},
    {Py_tp_richcompare, jsp_richcompare},
    {Py_tp_call, jsp_call},
    {Py_tp_iter, jsp_iter},
    {Py_tp_methods, jsp_methods},
    {Py_tp_members, jsp_members},
    {Py_mp_length, jsp_len},
    {Py_mp_subscript, jsp_getitem},
    {Py_mp_ass_subscript, jsp_setitem},
    {Py_sq_contains, jsp_contains},
    {Py_nb_bool, jsp_bool},
    {Py_am_await, jsp_await},
    {Py_bf_getbuffer, jsp_getbuffer},
    {Py_bf_releasebuffer, jsp_releasebuffer},
    {0, NULL},
};

static PyType_Spec jsp_spec = {
    .name = "pymport_py.JSObject",
    .basicsize = sizeof(jsp_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = jsp_slots,
};

static PyType_Slot jspi_slots[] = {
    {Py_tp_doc, "An iterator over a JavaScript iterable."},
    {Py_tp_dealloc, jspi_dealloc},
    {Py_tp_traverse, jspi_traverse},
    {Py_tp_clear, jspi_clear},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, jspi_next},
    {0, NULL},
};

static PyType_Spec jspi_spec = {
    .name = "pymport_py.JSIterator",
    .basicsize = sizeof(jsp_iterator),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = jspi_slots,
};

int jsp_setup_types(PyObject *module) {
    mod_state *st = mod_get_state(module);
    st->JSObjectType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &jsp_spec, NULL);
    if (!st->JSObjectType) return -1;
    st->JSIteratorType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &jspi_spec, NULL);
    if (!st->JSIteratorType) return -1;
    /* The type is immutable and final, so the names it has are known now. */
    PyObject *names = PyObject_Dir((PyObject *)st->JSObjectType);
    if (!names) return -1;
    st->jsobject_type_names = PyFrozenSet_New(names);
    Py_DECREF(names);
    if (!st->jsobject_type_names) return -1;
    if (PyModule_AddType(module, st->JSObjectType) < 0) return -1;
    return 0;
}
