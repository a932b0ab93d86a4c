/* pyproxy.c - the JS side: JS objects that stand for Python objects.
 *
 * A Python callable becomes a JS function that calls it; any other object a
 * PyObject instance (the class comes from js/bootstrap.js), and the container
 * of a pymport_py.live() a JS Proxy (live.c). Each proxy is tagged
 * (napi_type_tag) and wrapped with a record holding a strong reference to the
 * Python object, released by the proxy's finalizer with the GIL. The
 * same Python object gives the same JS proxy while it is alive
 * (env->pyobjects, protected by the GIL). */
#include "pyproxy.h"

#include "binding.h"
#include "calls.h"
#include "convert.h"
#include "errors.h"
#include "live.h"
#include "nodelock.h"

typedef struct {
    PyObject *obj;  /* set once (GIL); strong, released by pyp_finalize with the GIL */
    napi_ref weak;  /* Node lock: weak reference to the JS proxy; NULL once finalized */
    rt_env *env;    /* set once: the proxy's environment (finalizes its proxies before it dies) */
    uintptr_t key;  /* set once: its key in env->pyobjects (the object's address | kind), 0: none */
    uint32_t hash;  /* set once: the proxy's V8 identity hash, its key in env->pyhashes */
} pyp_record;

static const napi_type_tag pyp_tag = {0x70796d706f72745fULL, 0x70795f70726f7879ULL};

PyObject *pyp_unwrap(rt_env *env, napi_value v) {
    bool tagged = false;
    void *record = NULL;
    /* No proxy has v's identity hash: v is none (most objects, at the cost of
     * a hash instead of two private-property lookups). */
    if (!tb_first(&env->pyhashes, em_identity_hash(v))) return NULL;
    if (napi_check_object_type_tag(env->napi, v, &pyp_tag, &tagged) != napi_ok || !tagged) return NULL;
    if (napi_unwrap(env->napi, v, &record) != napi_ok || !record) return NULL;
    return ((pyp_record *)record)->obj;
}

/* Finalizer of a proxy. JS thread, Node lock held (or the environment's
 * teardown); takes the GIL. */
static void pyp_finalize(napi_env napi, void *data, void *hint) {
    (void)hint;
    pyp_record *r = data;
    PyGILState_STATE gil;
    napi_delete_reference(napi, r->weak);
    r->weak = NULL;
    if (!cp_gil_ensure(&gil)) {
        /* Python is finalizing: the object and the identity map (GIL) cannot be
         * touched; the record stays in the map, dead (weak NULL), for good. */
        return;
    }
    tb_remove(&r->env->pyobjects, r->key, r);
    tb_remove(&r->env->pyhashes, r->hash, r);
    Py_DECREF(r->obj);
    PyGILState_Release(gil);
    PyMem_RawFree(r);
}

/* Calls the Python callable behind a function proxy. JS thread, Node lock
 * held; takes the GIL. */
static napi_value pyp_call(napi_env napi, napi_callback_info info) {
    napi_value small[8], *argv = small, result = NULL;
    size_t argc = 8;
    void *data = NULL;
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, small, NULL, &data));
    pyp_record *r = data;
    rt_env *env = r->env;
    if (argc > 8) {
        argv = PyMem_RawMalloc(argc * sizeof *argv);
        if (!argv) {
            napi_throw_error(napi, NULL, "out of memory");
            return NULL;
        }
        JS_TRY(napi, napi_get_cb_info(napi, info, &argc, argv, NULL, NULL));
    }
    if (cp_is_finalizing()) {
        napi_throw_error(napi, NULL, "the Python interpreter is shutting down");
        goto done_nogil;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *args = PyTuple_New((Py_ssize_t)argc), *res = NULL;
    if (!args) goto error;
    for (size_t i = 0; i < argc; i++) {
        PyObject *a = cv_to_py(env, argv[i]);
        if (!a) goto error;
        PyTuple_SET_ITEM(args, (Py_ssize_t)i, a);
    }
    nl_begin_python_callback();
    res = PyObject_Call(r->obj, args, NULL);
    nl_end_python_callback();
    if (!res) goto error;
    if (cv_to_js(env, res, CV_ARG, &result) < 0) goto error;
    goto done;
error:
    result = NULL;
    er_throw_to_js(env);
done:
    Py_XDECREF(args);
    Py_XDECREF(res);
    PyGILState_Release(gil);
done_nogil:
    if (argv != small) PyMem_RawFree(argv);
    return result;
js_error:
    if (argv != small) PyMem_RawFree(argv);
    return NULL;
}

static int pyp_attach(rt_env *env, napi_value v, PyObject *obj, pyp_record *r);

/* The `length` a JS function like obj would have: its positional parameters
 * before the first default (libraries dispatch on it, as Express does on an
 * error handler's four). 0 when it cannot be told cheaply. */
static int pyp_arity(PyObject *obj) {
    int bound = 0;
    if (PyMethod_Check(obj)) {
        obj = PyMethod_GET_FUNCTION(obj);
        bound = 1;
    }
    if (!PyFunction_Check(obj)) return 0;
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(obj);
    PyObject *defaults = PyFunction_GET_DEFAULTS(obj);
    int n = code->co_argcount - (defaults ? (int)PyTuple_GET_SIZE(defaults) : 0) - bound;
    return n > 0 ? n : 0;
}

int pyp_wrap_as(rt_env *env, PyObject *obj, pyp_kind kind, napi_value *out) {
    /* Callables have a function and a PyObject; anything else its PyObject,
     * and lists and dicts a live Proxy too. */
    int as_function = kind == PYP_AUTO && PyCallable_Check(obj) && !PyExceptionInstance_Check(obj);
    if (kind == PYP_AUTO && !as_function) kind = PYP_OBJECT;
    /* Addresses are aligned, so the low bits tell the kinds of proxy apart. */
    uintptr_t key = (uintptr_t)obj | (uintptr_t)kind;
    for (tb_entry *e = tb_first(&env->pyobjects, key); e; e = tb_next(e)) {
        pyp_record *r = e->value;
        napi_value v = NULL;
        if (r->weak && napi_get_reference_value(env->napi, r->weak, &v) == napi_ok && v) {
            *out = v;
            return 0;
        }
    }
    napi_value v;
    pyp_record *r = PyMem_RawCalloc(1, sizeof *r);
    if (!r) {
        PyErr_NoMemory();
        return -1;
    }
    r->env = env;
    r->key = key;
    if (as_function) {
        const char *name = "pyfunction";
        PyObject *qualname = PyObject_GetAttrString(obj, "__name__");
        if (qualname && PyUnicode_Check(qualname)) name = PyUnicode_AsUTF8(qualname);
        if (!name) name = "pyfunction";
        PyErr_Clear();
        napi_status status = napi_create_function(env->napi, name, NAPI_AUTO_LENGTH, pyp_call, r, &v);
        Py_XDECREF(qualname);
        NAPI_OK(env, status);
        int arity = pyp_arity(obj);
        if (arity > 0) {
            napi_property_descriptor length = {"length", NULL, NULL, NULL, NULL, NULL,
                                               napi_configurable, NULL};
            NAPI_OK(env, napi_create_int32(env->napi, arity, &length.value));
            NAPI_OK(env, napi_define_properties(env->napi, v, 1, &length));
        }
    } else if (kind == PYP_LIVE_LIST || kind == PYP_LIVE_DICT) {
        if (lv_new_proxy(env, obj, kind == PYP_LIVE_DICT, &v) < 0) goto error;
    } else {
        NAPI_OK(env, napi_new_instance(env->napi, cl_helper_value(env, RT_H_PYOBJECT), 0, NULL, &v));
    }
    if (pyp_attach(env, v, obj, r) < 0) return -1;
    *out = v;
    return 0;
error:
    PyMem_RawFree(r);
    return -1;
}

/* Tags and wraps the JS object v with record r for obj, keeping r in the
 * identity map when r->key is set. Returns 0, or -1 with an exception (r
 * freed). */
static int pyp_attach(rt_env *env, napi_value v, PyObject *obj, pyp_record *r) {
    r->env = env;
    r->hash = em_identity_hash(v);
    NAPI_OK(env, napi_type_tag_object(env->napi, v, &pyp_tag));
    NAPI_OK(env, napi_create_reference(env->napi, v, 0, &r->weak));
    if ((r->key && tb_insert(&env->pyobjects, r->key, r) < 0) ||
        tb_insert(&env->pyhashes, r->hash, r) < 0) {
        if (r->key) tb_remove(&env->pyobjects, r->key, r);
        napi_delete_reference(env->napi, r->weak);
        PyErr_NoMemory();
        goto error;
    }
    r->obj = Py_NewRef(obj);
    /* From here the finalizer owns the record. */
    if (napi_wrap(env->napi, v, r, pyp_finalize, NULL, NULL) != napi_ok) {
        if (r->key) tb_remove(&env->pyobjects, r->key, r);
        tb_remove(&env->pyhashes, r->hash, r);
        Py_DECREF(obj);
        napi_delete_reference(env->napi, r->weak);
        er_from_status(env, napi_generic_failure);
        goto error;
    }
    return 0;
error:
    PyMem_RawFree(r);
    return -1;
}

int pyp_mark(rt_env *env, napi_value v, PyObject *obj) {
    pyp_record *r = PyMem_RawCalloc(1, sizeof *r);
    if (!r) {
        PyErr_NoMemory();
        return -1;
    }
    return pyp_attach(env, v, obj, r); /* key 0: not an identity of obj */
}

int pyp_wrap(rt_env *env, PyObject *obj, napi_value *out) { return pyp_wrap_as(env, obj, PYP_AUTO, out); }

/* binding.str(proxy) / binding.repr(proxy): Python str() and repr(). */
static napi_value pyp_js_text(napi_env napi, napi_callback_info info, PyObject *(*fn)(PyObject *)) {
    size_t argc = 1;
    napi_value arg, out = NULL;
    rt_env *env = bd_env_of(napi);
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, &arg, NULL, NULL));
    if (argc < 1) return NULL; /* nothing to show: undefined */
    PyObject *obj = pyp_unwrap(env, arg);
    if (!obj) {
        napi_throw_type_error(napi, NULL, "not a Python object");
        return NULL;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *s = fn(obj);
    if (!s || cv_to_js(env, s, CV_ARG, &out) < 0) {
        out = NULL;
        er_throw_to_js(env);
    }
    Py_XDECREF(s);
    PyGILState_Release(gil);
    return out;
js_error:
    return NULL;
}

static napi_value pyp_js_str(napi_env napi, napi_callback_info info) {
    return pyp_js_text(napi, info, PyObject_Str);
}

static napi_value pyp_js_repr(napi_env napi, napi_callback_info info) {
    return pyp_js_text(napi, info, PyObject_Repr);
}

napi_status pyp_define_binding(napi_env napi, napi_value exports) {
    napi_property_descriptor props[] = {
        {"str", NULL, pyp_js_str, NULL, NULL, NULL, napi_default, NULL},
        {"repr", NULL, pyp_js_repr, NULL, NULL, NULL, napi_default, NULL},
    };
    return napi_define_properties(napi, exports, sizeof props / sizeof props[0], props);
}
