/* pyapi.c - the Python operations behind pymport's JS API (js/pyobject.js):
 * binding functions that JavaScript calls with PyObject proxies.
 *
 * Every function runs on the JS thread of its environment with its Node lock
 * held and takes the GIL itself. Results that are Python objects come back as
 * PyObject proxies (PYP_OBJECT), as in pymport; a Python exception becomes a
 * thrown JS Error (pythonType, pythonValue, pythonTrace). */
#include "pyapi.h"

#include "async.h"
#include "binding.h"
#include "convert.h"
#include "errors.h"
#include "jsproxy.h"
#include "live.h"
#include "nodelock.h"
#include "pyproxy.h"

#define PA_MAX_ARGS 4

/* One binding function: fn gets the converted `this`-less arguments and sets
 * *out, or returns -1 with a Python exception. `self` is the unwrapped first
 * argument when `needs_self`. */
typedef int (*pa_fn)(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out);

/* Throws the current Python exception as er_throw_to_js does, with pymport's
 * message ("Python exception: ..."), and its pythonType (the exception's type)
 * and pythonTrace (its traceback, or None) as PyObjects beside pythonValue. */
static void pa_throw(rt_env *env) {
    PyObject *value = er_take();
    napi_value err = er_exception_value_as(env, value, 1), type, trace;
    if (!err) {
        napi_throw_error(env->napi, NULL, "a Python exception (it could not be converted)");
    } else {
        bool has = false;
        if (value && napi_has_named_property(env->napi, err, "pythonValue", &has) == napi_ok && has) {
            PyObject *tb = PyException_GetTraceback(value);
            if (pyp_wrap_as(env, (PyObject *)Py_TYPE(value), PYP_OBJECT, &type) == 0 &&
                pyp_wrap_as(env, tb ? tb : Py_None, PYP_OBJECT, &trace) == 0) {
                napi_set_named_property(env->napi, err, "pythonType", type);
                napi_set_named_property(env->napi, err, "pythonTrace", trace);
            }
            PyErr_Clear();
            Py_XDECREF(tb);
        }
        napi_throw(env->napi, err);
    }
    Py_XDECREF(value);
}

static napi_value pa_entry(napi_env napi, napi_callback_info info, pa_fn fn, int needs_self) {
    rt_env *env = bd_env_of(napi);
    napi_value argv[PA_MAX_ARGS], out = NULL;
    size_t argc = PA_MAX_ARGS;
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, argv, NULL, NULL));
    for (size_t i = argc; i < PA_MAX_ARGS; i++) JS_TRY(napi, napi_get_undefined(napi, &argv[i]));
    PyObject *self = NULL;
    if (needs_self && !(self = pyp_unwrap(env, argv[0]))) {
        napi_throw_type_error(napi, NULL, "expected a PyObject");
        return NULL;
    }
    if (cp_is_finalizing()) {
        napi_throw_error(napi, NULL, "the Python interpreter is shutting down");
        return NULL;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_XINCREF(self);
    nl_begin_python_callback();
    int rc = fn(env, self, argc, argv, &out);
    nl_end_python_callback();
    if (rc < 0) {
        out = NULL;
        pa_throw(env);
    }
    Py_XDECREF(self);
    PyGILState_Release(gil);
    return out;
js_error:
    return NULL;
}

/* Steals a reference to obj: sets *out to its PyObject proxy, to a Promise
 * (resolving with a PyObject) when obj is a coroutine or future, or to a live
 * container for a pymport_py.live(). */
static int pa_return(rt_env *env, PyObject *obj, napi_value *out) {
    if (!obj) return -1;
    mod_state *st = rt_state_of(env);
    int rc;
    if (lv_check(st, obj))
        rc = lv_to_js(env, obj, out);
    else if (!jsp_check(st, obj) && as_is_awaitable(st, obj))
        rc = as_awaitable_to_js_as(env, obj, PYP_OBJECT, out);
    else
        rc = pyp_wrap_as(env, obj, PYP_OBJECT, out);
    Py_DECREF(obj);
    return rc;
}

/* Returns a new reference: the Python value of a JS argument (deep: arrays
 * to lists, plain objects to dicts, PyObjects to their object; pymport's
 * rules for cycles, Buffers, big integers, functions and class instances). */
static PyObject *pa_arg(rt_env *env, napi_value v) { return cv_to_py_pymport(env, v); }

/* Returns a new reference: a str from a JS value. */
static PyObject *pa_str_arg(rt_env *env, napi_value v) {
    napi_value s;
    NAPI_OK(env, napi_coerce_to_string(env->napi, v, &s));
    return cv_string_to_py(env, s);
error:
    return NULL;
}

static int pa_import(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)self;
    (void)argc;
    PyObject *name = pa_str_arg(env, argv[0]);
    if (!name) return -1;
    PyObject *module = PyImport_Import(name);
    Py_DECREF(name);
    return pa_return(env, module, out);
}

/* A namespace for eval: a dict as is (a PyObject of one, or a plain object
 * converted), or a fresh dict with the builtins. */
static PyObject *pa_namespace(rt_env *env, napi_value v) {
    napi_valuetype type;
    NAPI_OK(env, napi_typeof(env->napi, v, &type));
    if (type == napi_undefined || type == napi_null) {
        PyObject *d = PyDict_New();
        if (d && PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) < 0) Py_CLEAR(d);
        return d;
    }
    PyObject *ns = pa_arg(env, v);
    if (ns && !PyDict_Check(ns)) {
        PyErr_SetString(PyExc_TypeError, "globals and locals must be dicts or plain objects");
        Py_CLEAR(ns);
    }
    if (ns && !PyDict_GetItemString(ns, "__builtins__") &&
        PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0)
        Py_CLEAR(ns);
    return ns;
error:
    return NULL;
}

static int pa_eval(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)self;
    (void)argc;
    PyObject *code = pa_str_arg(env, argv[0]), *globals = NULL, *locals = NULL, *res = NULL;
    const char *text;
    if (!code || !(text = PyUnicode_AsUTF8(code))) goto done;
    if (!(globals = pa_namespace(env, argv[1]))) goto done;
    napi_valuetype type;
    NAPI_OK(env, napi_typeof(env->napi, argv[2], &type));
    locals = type == napi_undefined ? Py_NewRef(globals) : pa_namespace(env, argv[2]);
    if (!locals) goto done;
    res = PyRun_String(text, Py_eval_input, globals, locals);
done:
error:
    Py_XDECREF(code);
    Py_XDECREF(globals);
    Py_XDECREF(locals);
    return pa_return(env, res, out);
}

/* pa_return, but undefined when `value` is NULL because of an exception of
 * class `missing` (which is cleared). */
static int pa_return_or_undefined(rt_env *env, PyObject *value, PyObject *missing,
                                  napi_value *out) {
    if (!value && PyErr_ExceptionMatches(missing)) {
        PyErr_Clear();
        NAPI_OK(env, napi_get_undefined(env->napi, out));
        return 0;
    }
    return pa_return(env, value, out);
error:
    return -1;
}

/* get(o, name): the attribute as a PyObject, or undefined when missing. */
static int pa_get(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    PyObject *name = pa_str_arg(env, argv[1]);
    if (!name) return -1;
    PyObject *value = PyObject_GetAttr(self, name);
    Py_DECREF(name);
    return pa_return_or_undefined(env, value, PyExc_AttributeError, out);
}

static int pa_has(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    PyObject *name = pa_str_arg(env, argv[1]);
    if (!name) return -1;
    int has = PyObject_HasAttr(self, name);
    Py_DECREF(name);
    NAPI_OK(env, napi_get_boolean(env->napi, has, out));
    return 0;
error:
    return -1;
}

/* set(o, name, value) / del(o, name): attribute assignment and deletion. */
static int pa_set(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    PyObject *name = pa_str_arg(env, argv[1]), *value = NULL;
    int rc = -1;
    if (!name) return -1;
    if (argc >= 3 && !(value = pa_arg(env, argv[2]))) goto done;
    if (PyObject_SetAttr(self, name, value) < 0) goto done;
    NAPI_OK(env, napi_get_boolean(env->napi, true, out));
    rc = 0; /* only now: a failed napi call above must not return success */
done:
error:
    Py_DECREF(name);
    Py_XDECREF(value);
    return rc;
}

static int pa_item(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    PyObject *key = pa_arg(env, argv[1]);
    if (!key) return -1;
    PyObject *value = PyObject_GetItem(self, key);
    Py_DECREF(key);
    return pa_return(env, value, out);
}

/* Returns a new reference: a tuple of the JS array's items, deep-converted. */
static PyObject *pa_args(rt_env *env, napi_value arr) {
    uint32_t n = 0;
    bool is_array = false;
    NAPI_OK(env, napi_is_array(env->napi, arr, &is_array));
    if (is_array) NAPI_OK(env, napi_get_array_length(env->napi, arr, &n));
    PyObject *tuple = PyTuple_New(n);
    for (uint32_t i = 0; tuple && i < n; i++) {
        napi_value item;
        PyObject *py;
        if (napi_get_element(env->napi, arr, i, &item) != napi_ok || !(py = pa_arg(env, item))) {
            if (!PyErr_Occurred()) er_from_status(env, napi_generic_failure);
            Py_CLEAR(tuple);
            break;
        }
        PyTuple_SET_ITEM(tuple, i, py);
    }
    return tuple;
error:
    return NULL;
}

/* Returns a new reference: the kwargs dict, or NULL with no exception when
 * the JS value is undefined. */
static PyObject *pa_kwargs(rt_env *env, napi_value v, int *failed) {
    napi_valuetype type;
    *failed = 1;
    NAPI_OK(env, napi_typeof(env->napi, v, &type));
    *failed = 0;
    if (type == napi_undefined || type == napi_null) return NULL;
    PyObject *kw = pa_arg(env, v);
    if (kw && !PyDict_Check(kw)) {
        PyErr_SetString(PyExc_TypeError, "keyword arguments must be a plain object");
        Py_CLEAR(kw);
    }
    if (!kw) *failed = 1;
    return kw;
error:
    return NULL;
}

/* call(o, args, kwargs) */
static int pa_call(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    int failed;
    PyObject *args = pa_args(env, argv[1]);
    if (!args) return -1;
    PyObject *kwargs = pa_kwargs(env, argv[2], &failed);
    PyObject *res = failed ? NULL : PyObject_Call(self, args, kwargs);
    Py_DECREF(args);
    Py_XDECREF(kwargs);
    return pa_return(env, res, out);
}

/* callAsync(o, args, kwargs): the call runs on a Python thread (GIL taken
 * there); the returned Promise resolves with a PyObject. */
static int pa_call_async(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    mod_state *st = rt_state_of(env);
    int failed;
    if (mod_load_futures(st) < 0) return -1;
    PyObject *args = pa_args(env, argv[1]);
    if (!args) return -1;
    PyObject *kwargs = pa_kwargs(env, argv[2], &failed);
    PyObject *future = failed ? NULL : PyObject_CallFunction(st->call_in_thread, "OOO", self, args,
                                                             kwargs ? kwargs : Py_None);
    Py_DECREF(args);
    Py_XDECREF(kwargs);
    if (!future) return -1;
    int rc = as_awaitable_to_js_as(env, future, PYP_OBJECT, out);
    Py_DECREF(future);
    return rc;
}

/* mark(proxy, o): a proxify() Proxy converts back to o wherever it goes. */
static int pa_mark(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    if (pyp_mark(env, argv[1], self) < 0) return -1;
    NAPI_OK(env, napi_get_undefined(env->napi, out));
    return 0;
error:
    return -1;
}

/* exception(err): the Python exception for a thrown JS value (for __exit__). */
static int pa_exception(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)self;
    (void)argc;
    er_from_js(env, argv[0]);
    return pa_return(env, er_take(), out);
}

/* toJS(o, depth, buffer, makeFunction): depth undefined = no limit; buffer
 * default true; makeFunction(pyobject) gives the JS function of a callable. */
static int pa_to_js(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    napi_valuetype type;
    int32_t depth = -1;
    bool buffers = true;
    NAPI_OK(env, napi_typeof(env->napi, argv[1], &type));
    if (type == napi_number) {
        double d;
        NAPI_OK(env, napi_get_value_double(env->napi, argv[1], &d));
        /* As pymport: a negative depth never reaches 0, so is no limit. */
        depth = d < 0 || d > 1e6 ? -1 : (int32_t)d;
    }
    NAPI_OK(env, napi_typeof(env->napi, argv[2], &type));
    if (type == napi_boolean) NAPI_OK(env, napi_get_value_bool(env->napi, argv[2], &buffers));
    return cv_to_js_pymport(env, self, depth, buffers, argv[3], out);
error:
    return -1;
}

static int pa_from_js(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)self;
    (void)argc;
    return pa_return(env, pa_arg(env, argv[0]), out);
}

/* info(o): [id, type name, callable, length (or -1)] in one call. */
static int pa_info(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    (void)argv;
    napi_value v;
    Py_ssize_t len = -1;
    if (PyObject_HasAttrString((PyObject *)Py_TYPE(self), "__len__")) {
        len = PyObject_Length(self);
        if (len < 0) {
            PyErr_Clear();
            len = -1;
        }
    }
    NAPI_OK(env, napi_create_array_with_length(env->napi, 4, out));
    NAPI_OK(env, napi_create_double(env->napi, (double)(uintptr_t)self, &v));
    NAPI_OK(env, napi_set_element(env->napi, *out, 0, v));
    NAPI_OK(env, napi_create_string_utf8(env->napi, Py_TYPE(self)->tp_name, NAPI_AUTO_LENGTH, &v));
    NAPI_OK(env, napi_set_element(env->napi, *out, 1, v));
    NAPI_OK(env, napi_get_boolean(env->napi, PyCallable_Check(self), &v));
    NAPI_OK(env, napi_set_element(env->napi, *out, 2, v));
    NAPI_OK(env, napi_create_double(env->napi, (double)len, &v));
    NAPI_OK(env, napi_set_element(env->napi, *out, 3, v));
    return 0;
error:
    return -1;
}

static int pa_type(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    (void)argv;
    return pa_return(env, Py_NewRef((PyObject *)Py_TYPE(self)), out);
}

static int pa_iter(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    (void)argv;
    return pa_return(env, PyObject_GetIter(self), out);
}

/* next(it): the next item as a PyObject, or undefined at the end. */
static int pa_next(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    (void)argv;
    if (!PyIter_Check(self)) {
        PyErr_SetString(PyExc_TypeError, "not an iterator");
        return -1;
    }
    PyObject *item = PyIter_Next(self);
    if (!item) {
        if (PyErr_Occurred()) return -1;
        NAPI_OK(env, napi_get_undefined(env->napi, out));
        return 0;
    }
    return pa_return(env, item, out);
error:
    return -1;
}

/* Raises pymport's TypeError unless o supports the mapping protocol. */
static int pa_check_mapping(PyObject *o) {
    if (PyMapping_Check(o)) return 0;
    PyErr_SetString(PyExc_TypeError, "Object does not support mapping protocol");
    return -1;
}

/* keys(o) / values(o): lists of a mapping's keys and values. */
static int pa_keys(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    (void)argv;
    if (pa_check_mapping(self) < 0) return -1;
    return pa_return(env, PyMapping_Keys(self), out);
}

static int pa_values(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    (void)argv;
    if (pa_check_mapping(self) < 0) return -1;
    return pa_return(env, PyMapping_Values(self), out);
}

/* itemOrUndefined(o, key): o[key], or undefined when that raises, as
 * pymport's item() does. */
static int pa_item_or_undefined(rt_env *env, PyObject *self, size_t argc, napi_value *argv,
                                napi_value *out) {
    (void)argc;
    PyObject *key = pa_arg(env, argv[1]);
    if (!key) return -1;
    PyObject *value = PyObject_GetItem(self, key);
    Py_DECREF(key);
    return pa_return_or_undefined(env, value, PyExc_Exception, out);
}

/* isSet(o): o is a set or frozenset (pymport's has() is a membership test). */
static int pa_is_set(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    (void)argv;
    NAPI_OK(env, napi_get_boolean(env->napi, PyAnySet_Check(self), out));
    return 0;
error:
    return -1;
}

/* contains(o, key): `key in o`, the key converted like an argument. */
static int pa_contains(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)argc;
    PyObject *key = pa_arg(env, argv[1]);
    if (!key) return -1;
    int has = PySequence_Contains(self, key);
    Py_DECREF(key);
    if (has < 0) return -1;
    NAPI_OK(env, napi_get_boolean(env->napi, has, out));
    return 0;
error:
    return -1;
}

/* memoryview(buffer): a memoryview over the JS buffer's memory (zero-copy). */
static int pa_memoryview(rt_env *env, PyObject *self, size_t argc, napi_value *argv, napi_value *out) {
    (void)self;
    (void)argc;
    PyObject *js = cv_to_py(env, argv[0]);
    if (!js) return -1;
    PyObject *view = PyMemoryView_FromObject(js);
    Py_DECREF(js);
    return pa_return(env, view, out);
}

#define PA_ENTRY(name, fn, needs_self)                                             \
    static napi_value name(napi_env napi, napi_callback_info info) {                \
        return pa_entry(napi, info, fn, needs_self);                                \
    }
PA_ENTRY(pa_js_import, pa_import, 0)
PA_ENTRY(pa_js_eval, pa_eval, 0)
PA_ENTRY(pa_js_get, pa_get, 1)
PA_ENTRY(pa_js_has, pa_has, 1)
PA_ENTRY(pa_js_set, pa_set, 1)
PA_ENTRY(pa_js_item, pa_item, 1)
PA_ENTRY(pa_js_call, pa_call, 1)
PA_ENTRY(pa_js_call_async, pa_call_async, 1)
PA_ENTRY(pa_js_to_js, pa_to_js, 1)
PA_ENTRY(pa_js_from_js, pa_from_js, 0)
PA_ENTRY(pa_js_info, pa_info, 1)
PA_ENTRY(pa_js_type, pa_type, 1)
PA_ENTRY(pa_js_iter, pa_iter, 1)
PA_ENTRY(pa_js_next, pa_next, 1)
PA_ENTRY(pa_js_keys, pa_keys, 1)
PA_ENTRY(pa_js_values, pa_values, 1)
PA_ENTRY(pa_js_memoryview, pa_memoryview, 0)
PA_ENTRY(pa_js_mark, pa_mark, 1)
PA_ENTRY(pa_js_exception, pa_exception, 0)
PA_ENTRY(pa_js_item_or_undefined, pa_item_or_undefined, 1)
PA_ENTRY(pa_js_is_set, pa_is_set, 1)
PA_ENTRY(pa_js_contains, pa_contains, 1)
#undef PA_ENTRY

napi_status pa_define_binding(napi_env napi, napi_value exports) {
#define PA_PROP(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}
    napi_property_descriptor props[] = {
        PA_PROP("pyimport", pa_js_import), PA_PROP("pyeval", pa_js_eval),
        PA_PROP("pyGet", pa_js_get),       PA_PROP("pyHas", pa_js_has),
        PA_PROP("pySet", pa_js_set),       PA_PROP("pyItem", pa_js_item),
        PA_PROP("pyCall", pa_js_call),     PA_PROP("pyCallAsync", pa_js_call_async),
        PA_PROP("pyToJS", pa_js_to_js),    PA_PROP("pyFromJS", pa_js_from_js),
        PA_PROP("pyInfo", pa_js_info),     PA_PROP("pyType", pa_js_type),
        PA_PROP("pyIter", pa_js_iter),     PA_PROP("pyNext", pa_js_next),
        PA_PROP("pyKeys", pa_js_keys),     PA_PROP("pyValues", pa_js_values),
        PA_PROP("pyMemoryview", pa_js_memoryview), PA_PROP("pyMark", pa_js_mark),
        PA_PROP("pyException", pa_js_exception),
        PA_PROP("pyItemOrUndefined", pa_js_item_or_undefined),
        PA_PROP("pyIsSet", pa_js_is_set), PA_PROP("pyContains", pa_js_contains),
    };
#undef PA_PROP
    return napi_define_properties(napi, exports, sizeof props / sizeof props[0], props);
}
