/* fromjs.c - JS values to Python (DESIGN.md section 5, left column), and the
 * deep copy of JSObject.to_py(). All functions: Node lock and GIL held. */
#include "convert.h"

#include "calls.h"
#include "errors.h"
#include "jsfunction.h"
#include "jsproxy.h"
#include "pyproxy.h"

#include <math.h>

#define CV_MAX_SAFE 9007199254740992.0 /* 2**53 */

/* GIL: set while cv_to_py_pymport converts (pymport's JS API rules). */
static int cv_pymport;

PyObject *cv_string_to_py(rt_env *env, napi_value v) {
    char16_t small[256];
    size_t len = 0;
    NAPI_OK(env, napi_get_value_string_utf16(env->napi, v, small, 256, &len));
    if (len < 255) {
        int order = -1; /* little endian: V8's UTF-16 is native, x86 and arm64 */
        return PyUnicode_DecodeUTF16((const char *)small, (Py_ssize_t)len * 2, "surrogatepass", &order);
    }
    NAPI_OK(env, napi_get_value_string_utf16(env->napi, v, NULL, 0, &len));
    char16_t *buf = PyMem_Malloc((len + 1) * sizeof *buf);
    if (!buf) return PyErr_NoMemory();
    napi_status status = napi_get_value_string_utf16(env->napi, v, buf, len + 1, &len);
    if (status != napi_ok) {
        PyMem_Free(buf);
        er_from_status(env, status);
        return NULL;
    }
    int order = -1;
    PyObject *s = PyUnicode_DecodeUTF16((const char *)buf, (Py_ssize_t)len * 2, "surrogatepass", &order);
    PyMem_Free(buf);
    return s;
error:
    return NULL;
}

static PyObject *cv_number_to_py(rt_env *env, napi_value v) {
    (void)env;
    double d = em_number_value(v);
    if (isfinite(d) && d == floor(d) && fabs(d) <= CV_MAX_SAFE) return PyLong_FromLongLong((long long)d);
    if (cv_pymport && isfinite(d) && d == floor(d)) return PyLong_FromDouble(d); /* exactly */
    return PyFloat_FromDouble(d);
}

static PyObject *cv_bigint_to_py(rt_env *env, napi_value v) {
    int sign = 0;
    size_t count = 0;
    uint64_t small[4];
    uint64_t *words = small;
    PyObject *res = NULL;
    NAPI_OK(env, napi_get_value_bigint_words(env->napi, v, NULL, &count, NULL));
    if (count > 4 && !(words = PyMem_Malloc(count * sizeof *words))) return PyErr_NoMemory();
    NAPI_OK(env, napi_get_value_bigint_words(env->napi, v, &sign, &count, words));
    if (count == 0) {
        res = PyLong_FromLong(0);
    } else {
        /* Words are little-endian 64-bit limbs: as bytes on a little-endian host. */
        res = cp_long_from_magnitude((const unsigned char *)words, count * 8, sign);
    }
error:
    if (words != small) PyMem_Free(words);
    return res;
}

/* Returns a new reference: the pymport.js_function of the JS function v. */
static PyObject *cv_js_function(rt_env *env, napi_value v) {
    PyObject *fn = jsp_wrap(env, v);
    if (!fn) return NULL;
    PyObject *res = jf_new(rt_state_of(env), fn);
    Py_DECREF(fn);
    return res;
}

PyObject *cv_to_py(rt_env *env, napi_value v) {
    napi_valuetype type = em_typeof(v);
    switch (type) {
    case napi_undefined:
    case napi_null:
        Py_RETURN_NONE;
    case napi_boolean: {
        bool b;
        NAPI_OK(env, napi_get_value_bool(env->napi, v, &b));
        return PyBool_FromLong(b);
    }
    case napi_number:
        return cv_number_to_py(env, v);
    case napi_bigint:
        return cv_bigint_to_py(env, v);
    case napi_string:
        return cv_string_to_py(env, v);
    case napi_object:
    case napi_function: {
        PyObject *orig = pyp_unwrap(env, v);
        if (orig) return Py_NewRef(orig);
        if (cv_pymport && type == napi_function) return cv_js_function(env, v);
        return jsp_wrap(env, v);
    }
    default: /* symbol, external */
        if (cv_pymport) {
            PyErr_SetString(PyExc_TypeError, "Object type is not supported");
            return NULL;
        }
        return jsp_wrap(env, v);
    }
error:
    return NULL;
}

/* ---- deep copy (to_py) ---- */

/* pymport's fromJS() (the JS API) records the JS objects converted so far in
 * a Map (object -> an External of its Python object, borrowed from the result
 * being built), so that shared and circular structures stay shared and
 * circular. NULL: DESIGN.md's rules (JSObject.to_py), where a cycle raises
 * RecursionError. */
typedef struct {
    napi_value map, get, set;
} cv_from;

static PyObject *cv_deep(rt_env *env, napi_value v, cv_from *from);

/* Records that the JS object v became obj. Returns 0, or -1 with an exception. */
static int cv_from_add(rt_env *env, cv_from *from, napi_value v, PyObject *obj) {
    if (!from) return 0;
    napi_value args[2], ignored;
    args[0] = v;
    NAPI_OK(env, napi_create_external(env->napi, obj, NULL, NULL, &args[1]));
    NAPI_OK(env, napi_call_function(env->napi, from->map, from->set, 2, args, &ignored));
    return 0;
error:
    return -1;
}

/* Returns a borrowed reference: what v already became in this conversion, or
 * NULL (no exception; *failed set on error). */
static PyObject *cv_from_find(rt_env *env, cv_from *from, napi_value v, int *failed) {
    napi_value found;
    napi_valuetype type;
    void *obj = NULL;
    *failed = 1;
    NAPI_OK(env, napi_call_function(env->napi, from->map, from->get, 1, &v, &found));
    NAPI_OK(env, napi_typeof(env->napi, found, &type));
    if (type == napi_external) NAPI_OK(env, napi_get_value_external(env->napi, found, &obj));
    *failed = 0;
    return obj;
error:
    return NULL;
}

static PyObject *cv_deep_array(rt_env *env, napi_value v, cv_from *from) {
    uint32_t n;
    NAPI_OK(env, napi_get_array_length(env->napi, v, &n));
    PyObject *list = PyList_New(n);
    if (!list) return NULL;
    if (cv_from_add(env, from, v, list) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        napi_value item;
        napi_status status = napi_get_element(env->napi, v, i, &item);
        if (status != napi_ok) {
            Py_DECREF(list);
            er_from_status(env, status);
            return NULL;
        }
        PyObject *py = cv_deep(env, item, from);
        if (!py) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, py);
    }
    return list;
error:
    return NULL;
}

/* Returns a new reference: dict of the own enumerable string keys of v. */
static PyObject *cv_deep_object(rt_env *env, napi_value v, cv_from *from) {
    napi_value keys;
    uint32_t n;
    PyObject *dict = NULL, *key = NULL, *val = NULL;
    NAPI_OK(env, napi_get_all_property_names(env->napi, v, napi_key_own_only,
                                             napi_key_enumerable | napi_key_skip_symbols,
                                             napi_key_numbers_to_strings, &keys));
    NAPI_OK(env, napi_get_array_length(env->napi, keys, &n));
    if (!(dict = PyDict_New())) return NULL;
    if (cv_from_add(env, from, v, dict) < 0) goto error;
    for (uint32_t i = 0; i < n; i++) {
        napi_value k, item;
        NAPI_OK(env, napi_get_element(env->napi, keys, i, &k));
        NAPI_OK(env, napi_get_property(env->napi, v, k, &item));
        if (!(key = cv_string_to_py(env, k))) goto error;
        if (!(val = cv_deep(env, item, from))) goto error;
        if (PyDict_SetItem(dict, key, val) < 0) goto error;
        Py_CLEAR(key);
        Py_CLEAR(val);
    }
    return dict;
error:
    Py_XDECREF(dict);
    Py_XDECREF(key);
    Py_XDECREF(val);
    return NULL;
}

/* Map -> dict, Set -> set, through Array.from(). */
static PyObject *cv_deep_collection(rt_env *env, napi_value v, int is_map, cv_from *from) {
    napi_value entries;
    uint32_t n;
    PyObject *out = NULL, *key = NULL, *val = NULL;
    NAPI_OK(env, cl_call_helper(env, RT_H_ENTRIES, 1, &v, &entries));
    NAPI_OK(env, napi_get_array_length(env->napi, entries, &n));
    if (!(out = is_map ? PyDict_New() : PySet_New(NULL))) return NULL;
    if (cv_from_add(env, from, v, out) < 0) goto error;
    for (uint32_t i = 0; i < n; i++) {
        napi_value e, k, item;
        NAPI_OK(env, napi_get_element(env->napi, entries, i, &e));
        if (is_map) {
            NAPI_OK(env, napi_get_element(env->napi, e, 0, &k));
            NAPI_OK(env, napi_get_element(env->napi, e, 1, &item));
            if (!(key = cv_deep(env, k, from))) goto error;
            if (!(val = cv_deep(env, item, from))) goto error;
            if (PyDict_SetItem(out, key, val) < 0) goto error;
        } else {
            if (!(key = cv_deep(env, e, from))) goto error;
            if (PySet_Add(out, key) < 0) goto error;
        }
        Py_CLEAR(key);
        Py_CLEAR(val);
    }
    return out;
error:
    Py_XDECREF(out);
    Py_XDECREF(key);
    Py_XDECREF(val);
    return NULL;
}

static PyObject *cv_deep_date(rt_env *env, napi_value v) {
    mod_state *st = rt_state_of(env);
    double ms;
    NAPI_OK(env, napi_get_date_value(env->napi, v, &ms));
    if (!isfinite(ms)) {
        PyErr_SetString(PyExc_ValueError, "cannot convert an invalid JavaScript Date");
        return NULL;
    }
    PyObject *delta = PyObject_CallFunction(st->timedelta, "iid", 0, 0, ms * 1000.0);
    if (!delta) return NULL;
    PyObject *res = PyNumber_Add(st->epoch, delta);
    Py_DECREF(delta);
    return res;
error:
    return NULL;
}

static const char *cv_typed_format(napi_typedarray_type type) {
    switch (type) {
    case napi_int8_array: return "b";
    case napi_uint8_array: return "B";
    case napi_uint8_clamped_array: return "B";
    case napi_int16_array: return "h";
    case napi_uint16_array: return "H";
    case napi_int32_array: return "i";
    case napi_uint32_array: return "I";
    case napi_float32_array: return "f";
    case napi_float64_array: return "d";
    case napi_bigint64_array: return "q";
    case napi_biguint64_array: return "Q";
#ifdef NODE_API_HAS_FLOAT16_ARRAY
    case napi_float16_array: return "e"; /* Node 24: IEEE half precision */
#endif
    }
    return "B";
}

static PyObject *cv_deep_typed(rt_env *env, napi_value v, cv_from *from) {
    napi_typedarray_type type;
    size_t length, offset;
    void *data;
    NAPI_OK(env, napi_get_typedarray_info(env->napi, v, &type, &length, &data, NULL, &offset));
    size_t itemsize;
    switch (type) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: itemsize = 1; break;
    case napi_int16_array: case napi_uint16_array: itemsize = 2; break;
#ifdef NODE_API_HAS_FLOAT16_ARRAY
    case napi_float16_array: itemsize = 2; break;
#endif
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: itemsize = 4; break;
    default: itemsize = 8; break;
    }
    /* pymport: a Buffer (any Uint8Array) becomes a bytearray. */
    if (from && type == napi_uint8_array)
        return PyByteArray_FromStringAndSize(length ? data : "", (Py_ssize_t)length);
    PyObject *bytes = PyBytes_FromStringAndSize(length ? data : "", (Py_ssize_t)(length * itemsize));
    if (!bytes || type == napi_uint8_array) return bytes;
    PyObject *view = PyMemoryView_FromObject(bytes);
    Py_DECREF(bytes);
    if (!view) return NULL;
    PyObject *cast = PyObject_CallMethod(view, "cast", "s", cv_typed_format(type));
    Py_DECREF(view);
    return cast;
error:
    return NULL;
}

/* Returns 1 if v is an instance of helper constructor h, 0 if not, -1 on error. */
static int cv_instanceof(rt_env *env, napi_value v, rt_helper h) {
    bool r = false;
    napi_value ctor = cl_helper_value(env, h);
    if (!ctor) return 0;
    NAPI_OK(env, napi_instanceof(env->napi, v, ctor, &r));
    return r;
error:
    return -1;
}

/* Returns 1 if v's prototype is Object.prototype or null. */
static int cv_is_plain(rt_env *env, napi_value v) {
    napi_value proto, global, object, object_proto;
    napi_valuetype t;
    bool same = false;
    NAPI_OK(env, napi_get_prototype(env->napi, v, &proto));
    NAPI_OK(env, napi_typeof(env->napi, proto, &t));
    if (t == napi_null) return 1;
    NAPI_OK(env, napi_get_global(env->napi, &global));
    NAPI_OK(env, napi_get_named_property(env->napi, global, "Object", &object));
    NAPI_OK(env, napi_get_named_property(env->napi, object, "prototype", &object_proto));
    NAPI_OK(env, napi_strict_equals(env->napi, proto, object_proto, &same));
    return same;
error:
    return -1;
}

/* Returns a new reference: for pymport's JS API, an object of a class that has
 * no Python equivalent throws, as in pymport; Errors, Promises and binary
 * data (ArrayBuffer, DataView) stay JSObjects by reference. */
static PyObject *cv_class_instance(rt_env *env, napi_value v) {
    bool is = false;
    NAPI_OK(env, napi_is_error(env->napi, v, &is));
    if (!is) NAPI_OK(env, napi_is_promise(env->napi, v, &is));
    if (!is) NAPI_OK(env, napi_is_arraybuffer(env->napi, v, &is));
    if (!is) NAPI_OK(env, napi_is_dataview(env->napi, v, &is));
    if (is) return cv_to_py(env, v);
    PyErr_SetString(PyExc_TypeError, "class objects cannot be converted to Python");
error:
    return NULL;
}

static PyObject *cv_deep(rt_env *env, napi_value v, cv_from *from) {
    napi_valuetype type;
    bool is = false;
    int r;
    NAPI_OK(env, napi_typeof(env->napi, v, &type));
    if (type != napi_object) return cv_to_py(env, v);
    if (pyp_unwrap(env, v)) return cv_to_py(env, v);
    if (from) {
        PyObject *seen = cv_from_find(env, from, v, &r);
        if (seen || r) return seen ? Py_NewRef(seen) : NULL;
    }
    if (cp_enter_conversion(" while converting a JavaScript value to Python")) return NULL;
    PyObject *res = NULL;
    if (napi_is_array(env->napi, v, &is) == napi_ok && is) {
        res = cv_deep_array(env, v, from);
    } else if (napi_is_typedarray(env->napi, v, &is) == napi_ok && is) {
        res = cv_deep_typed(env, v, from);
    } else if (napi_is_date(env->napi, v, &is) == napi_ok && is) {
        res = cv_deep_date(env, v);
    } else if ((r = cv_instanceof(env, v, RT_H_MAP)) != 0) {
        res = r < 0 ? NULL : cv_deep_collection(env, v, 1, from);
    } else if ((r = cv_instanceof(env, v, RT_H_SET)) != 0) {
        res = r < 0 ? NULL : cv_deep_collection(env, v, 0, from);
    } else if ((r = cv_is_plain(env, v)) != 0) {
        res = r < 0 ? NULL : cv_deep_object(env, v, from);
    } else {
        res = cv_pymport ? cv_class_instance(env, v) : cv_to_py(env, v);
    }
    cp_leave_conversion();
    return res;
error:
    return NULL;
}

PyObject *cv_to_py_deep(rt_env *env, napi_value v) {
    int outer = cv_pymport; /* Python's to_py() inside a JS API conversion keeps its rules */
    cv_pymport = 0;
    PyObject *res = cv_deep(env, v, NULL);
    cv_pymport = outer;
    return res;
}

PyObject *cv_to_py_pymport(rt_env *env, napi_value v) {
    napi_valuetype type;
    cv_from from;
    PyObject *res = NULL;
    int outer = cv_pymport;
    cv_pymport = 1;
    NAPI_OK(env, napi_typeof(env->napi, v, &type));
    if (type != napi_object || pyp_unwrap(env, v)) { /* nothing to share */
        res = cv_deep(env, v, NULL);
    } else {
        NAPI_OK(env, napi_new_instance(env->napi, cl_helper_value(env, RT_H_MAP), 0, NULL, &from.map));
        NAPI_OK(env, napi_get_named_property(env->napi, from.map, "get", &from.get));
        NAPI_OK(env, napi_get_named_property(env->napi, from.map, "set", &from.set));
        res = cv_deep(env, v, &from);
    }
error:
    cv_pymport = outer;
    return res;
}
