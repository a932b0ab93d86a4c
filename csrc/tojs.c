/* tojs.c - Python values to JS (DESIGN.md section 5, right column). Node lock
 * and GIL held throughout. */
#include "convert.h"

#include "async.h"
#include "calls.h"
#include "errors.h"
#include "jsfunction.h"
#include "jsproxy.h"
#include "live.h"
#include "pyproxy.h"
#include "table.h"

#include <string.h>

#define CV_MAX_SAFE_INT 9007199254740992LL /* 2**53 */

/* A str that no JS string can hold (V8's limit is about 2**29 UTF-16 code
 * units). Returns -1. */
static int cv_str_too_long(Py_ssize_t units) {
    PyErr_Format(PyExc_ValueError,
                 "a str of %zd UTF-16 code units is longer than the longest JavaScript string "
                 "(%zu)", units, em_max_string_length());
    return -1;
}

static int cv_str_to_js(rt_env *env, PyObject *s, napi_value *out) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(s);
    if ((size_t)len > em_max_string_length()) return cv_str_too_long(len);
    switch (PyUnicode_KIND(s)) {
    case PyUnicode_1BYTE_KIND:
        NAPI_OK(env, napi_create_string_latin1(env->napi, (const char *)PyUnicode_1BYTE_DATA(s),
                                               (size_t)len, out));
        return 0;
    case PyUnicode_2BYTE_KIND:
        /* UCS-2 storage is UTF-16 code units, lone surrogates included. */
        NAPI_OK(env, napi_create_string_utf16(env->napi, (const char16_t *)PyUnicode_2BYTE_DATA(s),
                                              (size_t)len, out));
        return 0;
    default: {
        PyObject *b = PyUnicode_AsEncodedString(s, "utf-16-le", "surrogatepass");
        if (!b) return -1;
        if ((size_t)PyBytes_GET_SIZE(b) / 2 > em_max_string_length()) {
            Py_ssize_t units = PyBytes_GET_SIZE(b) / 2;
            Py_DECREF(b);
            return cv_str_too_long(units);
        }
        napi_status status = napi_create_string_utf16(
            env->napi, (const char16_t *)PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b) / 2, out);
        Py_DECREF(b);
        NAPI_OK(env, status);
        return 0;
    }
    }
error:
    return -1;
}

/* Names looked up by their str hash, one per slot (a later name takes the
 * slot); a slot is used only when its characters are the name's. */
#define CV_KEY_SLOTS 256
#define CV_KEY_MAX 32
typedef struct {
    Py_hash_t hash;
    size_t len;
    char chars[CV_KEY_MAX];
    em_global *key;
} cv_key;
struct cv_keys {
    cv_key slots[CV_KEY_SLOTS];
};

int cv_key_to_js(rt_env *env, PyObject *name, napi_value *out) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(name);
    if (PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND || len > CV_KEY_MAX)
        return cv_str_to_js(env, name, out);
    Py_hash_t hash = PyObject_Hash(name); /* cached in the str */
    if (hash == -1) return -1;
    if (!env->keys && !(env->keys = calloc(1, sizeof *env->keys))) return cv_str_to_js(env, name, out);
    const char *chars = (const char *)PyUnicode_1BYTE_DATA(name);
    cv_key *slot = &env->keys->slots[(size_t)hash & (CV_KEY_SLOTS - 1)];
    if (slot->key && slot->hash == hash && slot->len == (size_t)len && memcmp(slot->chars, chars, (size_t)len) == 0) {
        *out = em_global_get(slot->key);
        return 0;
    }
    if (em_internalized_latin1(chars, (size_t)len, out) < 0) return cv_str_to_js(env, name, out);
    em_global *key = em_global_new(*out);
    if (key) {
        em_global_free(slot->key);
        slot->key = key;
        slot->hash = hash;
        slot->len = (size_t)len;
        memcpy(slot->chars, chars, (size_t)len);
    }
    return 0;
}

void cv_keys_free(rt_env *env) {
    if (!env->keys) return;
    for (size_t i = 0; i < CV_KEY_SLOTS; i++) em_global_free(env->keys->slots[i].key);
    free(env->keys);
    env->keys = NULL;
}

static int cv_int_to_js(rt_env *env, PyObject *o, napi_value *out) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (!overflow && x <= CV_MAX_SAFE_INT && x >= -CV_MAX_SAFE_INT) {
        NAPI_OK(env, napi_create_int64(env->napi, x, out));
        return 0;
    }
    /* Beyond 2**53: a BigInt, exactly. */
    int sign = 0;
    size_t nbytes = 0;
    if (cp_long_magnitude_size(o, &nbytes, &sign) < 0) return -1;
    size_t count = (nbytes + 7) / 8;
    uint64_t *words = PyMem_Calloc(count ? count : 1, sizeof *words);
    if (!words) {
        PyErr_NoMemory();
        return -1;
    }
    /* Little-endian bytes are little-endian 64-bit limbs on this host. */
    if (cp_long_magnitude_bytes(o, (unsigned char *)words, nbytes) < 0) {
        PyMem_Free(words);
        return -1;
    }
    napi_status status = napi_create_bigint_words(env->napi, sign, count, words, out);
    PyMem_Free(words);
    NAPI_OK(env, status);
    return 0;
error:
    return -1;
}

/* pymport's toJS() (the JS API): the Python objects already converted in
 * this call, so that shared and circular structures stay shared and circular,
 * and the JS function that makes a pymport function of a callable's PyObject. */
typedef struct {
    tb_table seen;      /* PyObject* -> napi_value, valid in the caller's handle scope */
    napi_value make_fn; /* (pyobject) => function */
} cv_pymport;

/* How deep containers are copied (-1: all the way) and whether buffers are
 * converted; what lies deeper stays a PyObject (pymport's toJS options).
 * `pymport` is set for the JS API's toJS(), NULL for DESIGN.md's rules. */
typedef struct {
    int depth;
    int buffers;
    cv_pymport *pymport;
} cv_opts;

static int cv_convert(rt_env *env, PyObject *obj, cv_mode mode, cv_opts opts, napi_value *out);

/* The items are read one at a time, each with a reference: converting one may
 * run Python code (a callable's __name__) that changes the list. As a list
 * iterator does, the conversion then stops at the list's current end. */
static int cv_seq_to_js(rt_env *env, PyObject *seq, cv_opts opts, napi_value *out) {
    napi_value arr;
    NAPI_OK(env, napi_create_array_with_length(env->napi, (size_t)PySequence_Fast_GET_SIZE(seq), &arr));
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        napi_value item;
        PyObject *obj = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        int rc = cv_convert(env, obj, CV_NESTED, opts, &item);
        Py_DECREF(obj);
        if (rc < 0) return -1;
        NAPI_OK(env, napi_set_element(env->napi, arr, (uint32_t)i, item));
    }
    *out = arr;
    return 0;
error:
    return -1;
}

/* Returns 1 if every key of dict d is a str. */
static int cv_str_keys(PyObject *d) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v))
        if (!PyUnicode_Check(k)) return 0;
    return 1;
}

static int cv_dict_changed(void) {
    PyErr_SetString(PyExc_RuntimeError, "dictionary changed during its conversion to JavaScript");
    return -1;
}

/* A conversion may run Python code that changes the dict: that raises
 * RuntimeError, as a dict iterator does. */
static int cv_dict_to_js(rt_env *env, PyObject *d, cv_opts opts, napi_value *out) {
    napi_value obj;
    Py_ssize_t pos = 0, size = PyDict_GET_SIZE(d);
    PyObject *k, *v;
    NAPI_OK(env, napi_create_object(env->napi, &obj));
    while (PyDict_Next(d, &pos, &k, &v)) {
        napi_value jk, jv;
        if (PyDict_GET_SIZE(d) != size || !PyUnicode_Check(k)) return cv_dict_changed();
        /* Borrowed items may die if a conversion runs Python code. */
        Py_INCREF(k);
        Py_INCREF(v);
        int rc = cv_str_to_js(env, k, &jk);
        if (rc == 0) rc = cv_convert(env, v, CV_NESTED, opts, &jv);
        Py_DECREF(k);
        Py_DECREF(v);
        if (rc < 0) return -1;
        NAPI_OK(env, napi_set_property(env->napi, obj, jk, jv));
    }
    if (PyDict_GET_SIZE(d) != size) return cv_dict_changed();
    *out = obj;
    return 0;
error:
    return -1;
}

static int cv_set_to_js(rt_env *env, PyObject *s, cv_opts opts, napi_value *out) {
    PyObject *seq = PySequence_Fast(s, "");
    if (!seq) return -1;
    napi_value arr;
    int rc = cv_seq_to_js(env, seq, opts, &arr);
    Py_DECREF(seq);
    if (rc < 0) return -1;
    NAPI_OK(env, napi_new_instance(env->napi, cl_helper_value(env, RT_H_SET), 1, &arr, out));
    return 0;
error:
    return -1;
}

/* The exported buffer of a Python object shared with JS. */
static void cv_release_buffer(napi_env napi, void *data, void *hint) {
    (void)napi;
    (void)data;
    Py_buffer *view = hint;
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return; /* Python is going away with the exporter */
    PyBuffer_Release(view);
    PyGILState_Release(gil);
    PyMem_RawFree(view);
}

/* The typed array type and item size for a struct format, or -1. */
static int cv_format_type(const char *fmt, napi_typedarray_type *type) {
    if (!fmt) fmt = "B";
    if (*fmt == '@' || *fmt == '=' || *fmt == '<') fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0') return -1;
    switch (fmt[0]) {
    case 'b': *type = napi_int8_array; return 1;
    case 'B': case 'c': case '?': *type = napi_uint8_array; return 1;
    case 'h': *type = napi_int16_array; return 2;
    case 'H': *type = napi_uint16_array; return 2;
    case 'i': *type = napi_int32_array; return 4;
    case 'I': *type = napi_uint32_array; return 4;
    case 'l': case 'q': *type = napi_bigint64_array; return 8;
    case 'L': case 'Q': *type = napi_biguint64_array; return 8;
    case 'f': *type = napi_float32_array; return 4;
    case 'd': *type = napi_float64_array; return 8;
    }
    return -1;
}

/* A writable, C-contiguous buffer becomes a typed array over the same memory;
 * anything else is copied into a Buffer. */
static int cv_buffer_to_js(rt_env *env, PyObject *obj, napi_value *out) {
    Py_buffer *view = PyMem_RawMalloc(sizeof *view);
    if (!view) {
        PyErr_NoMemory();
        return -1;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_RECORDS) == 0) {
        napi_typedarray_type type;
        int itemsize = cv_format_type(view->format, &type);
        if (PyBuffer_IsContiguous(view, 'C') && view->len > 0) {
            if (itemsize < 0 || view->len % itemsize) {
                type = napi_uint8_array;
                itemsize = 1;
            }
            napi_value arraybuffer;
            napi_status status = napi_create_external_arraybuffer(
                env->napi, view->buf, (size_t)view->len, cv_release_buffer, view, &arraybuffer);
            if (status != napi_ok) {
                PyBuffer_Release(view);
                PyMem_RawFree(view);
                return er_from_status(env, status);
            }
            NAPI_OK(env, napi_create_typedarray(env->napi, type, (size_t)view->len / (size_t)itemsize,
                                                arraybuffer, 0, out));
            return 0;
        }
        PyBuffer_Release(view);
    } else {
        PyErr_Clear();
    }
    PyMem_RawFree(view);
    /* Read-only, strided or empty: copy. */
    PyObject *bytes = PyBytes_FromObject(obj);
    if (!bytes) return -1;
    napi_status status = napi_create_buffer_copy(env->napi, (size_t)PyBytes_GET_SIZE(bytes),
                                                 PyBytes_AS_STRING(bytes), NULL, out);
    Py_DECREF(bytes);
    NAPI_OK(env, status);
    return 0;
error:
    return -1;
}

/* ---- pymport's toJS() (the JS API, docs/javascript.md) ---- */

/* Remembers that obj became v in this conversion. Returns 0 or -1. */
static int cv_pm_seen(cv_opts opts, PyObject *obj, napi_value v) {
    if (tb_insert(&opts.pymport->seen, (uintptr_t)obj, (void *)v) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* An Array of the items of seq (a PySequence_Fast of obj), registered as
 * obj's value before its items are converted, so that obj inside itself is
 * the Array itself. */
static int cv_pm_items(rt_env *env, PyObject *obj, PyObject *seq, cv_opts opts, napi_value *out) {
    napi_value arr;
    NAPI_OK(env, napi_create_array_with_length(env->napi, (size_t)PySequence_Fast_GET_SIZE(seq), &arr));
    if (cv_pm_seen(opts, obj, arr) < 0) return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        napi_value item;
        PyObject *o = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        int rc = cv_convert(env, o, CV_NESTED, opts, &item);
        Py_DECREF(o);
        if (rc < 0) return -1;
        NAPI_OK(env, napi_set_element(env->napi, arr, (uint32_t)i, item));
    }
    *out = arr;
    return 0;
error:
    return -1;
}

/* A property key: a str as is, anything else converted (JS then makes a
 * string of it, a PyObject's being its str()), as pymport does. */
static int cv_pm_key(rt_env *env, PyObject *key, cv_opts opts, napi_value *out) {
    return PyUnicode_Check(key) ? cv_str_to_js(env, key, out) : cv_convert(env, key, CV_NESTED, opts, out);
}

/* A plain object of a dict's items, whatever the type of its keys. The items
 * are those of the dict when the conversion reaches it: converting a module
 * can import others, which changes dicts on the way (sys.modules). */
static int cv_pm_dict(rt_env *env, PyObject *d, cv_opts opts, napi_value *out) {
    napi_value obj;
    int rc = -1;
    NAPI_OK(env, napi_create_object(env->napi, &obj));
    if (cv_pm_seen(opts, d, obj) < 0) return -1;
    PyObject *items = PyDict_Items(d);
    if (!items) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        napi_value jk, jv;
        int r = cv_pm_key(env, PyTuple_GET_ITEM(pair, 0), opts, &jk);
        if (r == 0) r = cv_convert(env, PyTuple_GET_ITEM(pair, 1), CV_NESTED, opts, &jv);
        if (r == 0 && napi_set_property(env->napi, obj, jk, jv) != napi_ok)
            r = er_from_status(env, napi_generic_failure);
        if (r < 0) goto done;
    }
    *out = obj;
    rc = 0;
done:
    Py_DECREF(items);
    return rc;
error:
    return -1;
}

/* A module expands to a plain object of the attributes that dir() lists;
 * those that cannot be read (a submodule that is not installed) are left out. */
static int cv_pm_module(rt_env *env, PyObject *m, cv_opts opts, napi_value *out) {
    napi_value obj;
    int rc = -1;
    NAPI_OK(env, napi_create_object(env->napi, &obj));
    PyObject *names = PyObject_Dir(m);
    if (!names) {
        PyErr_Clear();
        *out = obj;
        return 0;
    }
    if (cv_pm_seen(opts, m, obj) < 0) goto done; /* dir() gives a list */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *name = Py_NewRef(PyList_GET_ITEM(names, i));
        PyObject *value = PyObject_GetAttr(m, name);
        napi_value jk, jv;
        int r = 0;
        if (!value) {
            PyErr_Clear();
        } else {
            r = cv_pm_key(env, name, opts, &jk);
            if (r == 0) r = cv_convert(env, value, CV_NESTED, opts, &jv);
            if (r == 0 && napi_set_property(env->napi, obj, jk, jv) != napi_ok)
                r = er_from_status(env, napi_generic_failure);
        }
        Py_DECREF(name);
        Py_XDECREF(value);
        if (r < 0) goto done;
    }
    *out = obj;
    rc = 0;
done:
    Py_DECREF(names);
    return rc;
error:
    return -1;
}

/* Containers (list, tuple, dict, set, frozenset) and modules. */
static int cv_pm_container(rt_env *env, PyObject *obj, cv_opts opts, napi_value *out) {
    int rc;
    if (opts.depth > 0) opts.depth--;
    if (cp_enter_conversion(" while converting a Python value to JavaScript")) return -1;
    if (PyDict_Check(obj)) {
        rc = cv_pm_dict(env, obj, opts, out);
    } else if (PyModule_Check(obj)) {
        rc = cv_pm_module(env, obj, opts, out);
    } else {
        PyObject *seq = PySequence_Fast(obj, "");
        rc = seq ? cv_pm_items(env, obj, seq, opts, out) : -1;
        Py_XDECREF(seq);
    }
    cp_leave_conversion();
    return rc;
}

/* The rules of pymport's toJS() that differ from DESIGN.md's, applied before
 * those: 1 when obj is left to the common rules, else 0 or -1. */
static int cv_pm_convert(rt_env *env, PyObject *obj, cv_opts opts, napi_value *out) {
    /* Below the depth, everything stays a PyObject, primitives included. */
    if (opts.depth == 0) return pyp_wrap_as(env, obj, PYP_OBJECT, out);
    tb_entry *e = tb_first(&opts.pymport->seen, (uintptr_t)obj);
    if (e) {
        *out = (napi_value)e->value;
        return 0;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj) || PyDict_Check(obj) || PyAnySet_Check(obj) ||
        PyModule_Check(obj))
        return cv_pm_container(env, obj, opts, out);
    return 1;
}

/* pymport's table for buffers: bytes, bytearray, memoryview and any other
 * exporter become a Buffer with a copy of the bytes; a buffer that is not
 * C-contiguous throws. */
static int cv_pm_buffer(rt_env *env, PyObject *obj, napi_value *out) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS) < 0) return -1;
    napi_status status = napi_create_buffer_copy(env->napi, (size_t)view.len,
                                                 view.len ? view.buf : "", NULL, out);
    PyBuffer_Release(&view);
    NAPI_OK(env, status);
    return 0;
error:
    return -1;
}

/* A callable becomes a pymport function (made by the JS API: it returns
 * PyObjects and carries __PyObject__), anything else a PyObject. */
static int cv_pm_object(rt_env *env, PyObject *obj, cv_opts opts, napi_value *out) {
    napi_value py, global;
    if (pyp_wrap_as(env, obj, PYP_OBJECT, &py) < 0) return -1;
    if (!PyCallable_Check(obj) || PyExceptionInstance_Check(obj)) {
        *out = py;
        return 0;
    }
    /* The maker is the JS API's own (js/pyobject.js): called directly, with
     * the GIL held, as the Set constructor is. */
    NAPI_OK(env, napi_get_global(env->napi, &global));
    NAPI_OK(env, napi_call_function(env->napi, global, opts.pymport->make_fn, 1, &py, out));
    return 0;
error:
    return -1;
}

int cv_to_js(rt_env *env, PyObject *obj, cv_mode mode, napi_value *out) {
    cv_opts all = {-1, 1, NULL};
    return cv_convert(env, obj, mode, all, out);
}

int cv_to_js_pymport(rt_env *env, PyObject *obj, int depth, int buffers, napi_value make_fn,
                     napi_value *out) {
    cv_pymport pymport = {{0}, make_fn};
    cv_opts opts = {depth, buffers, &pymport};
    int rc = cv_convert(env, obj, CV_NESTED, opts, out);
    tb_free(&pymport.seen);
    return rc;
}

static int cv_convert(rt_env *env, PyObject *obj, cv_mode mode, cv_opts opts, napi_value *out) {
    mod_state *st = rt_state_of(env);
    int rc = -1;
    if (opts.pymport && (rc = cv_pm_convert(env, obj, opts, out)) != 1) return rc;
    if (obj == Py_None) {
        NAPI_OK(env, mode == CV_ARG ? napi_get_undefined(env->napi, out) : napi_get_null(env->napi, out));
        return 0;
    }
    if (obj == st->null) {
        NAPI_OK(env, napi_get_null(env->napi, out));
        return 0;
    }
    if (PyBool_Check(obj)) {
        NAPI_OK(env, napi_get_boolean(env->napi, obj == Py_True, out));
        return 0;
    }
    if (PyLong_CheckExact(obj) || (PyLong_Check(obj) && !PyBool_Check(obj))) return cv_int_to_js(env, obj, out);
    if (PyFloat_Check(obj)) {
        NAPI_OK(env, napi_create_double(env->napi, PyFloat_AS_DOUBLE(obj), out));
        return 0;
    }
    if (PyUnicode_Check(obj)) return cv_str_to_js(env, obj, out);
    if (jsp_check(st, obj)) return jsp_value(env, obj, out);
    if (jf_check(st, obj)) return jf_value(env, obj, out);
    if (lv_check(st, obj)) return lv_to_js(env, obj, out);
    if (PyObject_TypeCheck(obj, st->RefType)) {
        PyObject *target = PyObject_GetAttrString(obj, "value");
        if (!target) return -1;
        rc = pyp_wrap(env, target, out);
        Py_DECREF(target);
        return rc;
    }
    if (!opts.buffers && PyObject_CheckBuffer(obj)) return pyp_wrap_as(env, obj, PYP_OBJECT, out);
    if (opts.pymport && PyObject_CheckBuffer(obj)) return cv_pm_buffer(env, obj, out);
    if (PyBytes_Check(obj)) {
        NAPI_OK(env, napi_create_buffer_copy(env->napi, (size_t)PyBytes_GET_SIZE(obj),
                                             PyBytes_AS_STRING(obj), NULL, out));
        return 0;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj) || PyDict_Check(obj) || PyAnySet_Check(obj)) {
        if (PyDict_Check(obj) && !cv_str_keys(obj)) return pyp_wrap(env, obj, out);
        if (opts.depth == 0) return pyp_wrap_as(env, obj, PYP_OBJECT, out);
        if (opts.depth > 0) opts.depth--;
        if (cp_enter_conversion(" while converting a Python value to JavaScript")) return -1;
        if (PyDict_Check(obj)) {
            rc = cv_dict_to_js(env, obj, opts, out);
        } else if (PyAnySet_Check(obj)) {
            rc = cv_set_to_js(env, obj, opts, out);
        } else {
            PyObject *seq = PySequence_Fast(obj, "");
            rc = seq ? cv_seq_to_js(env, seq, opts, out) : -1;
            Py_XDECREF(seq);
        }
        cp_leave_conversion();
        return rc;
    }
    if (PyObject_CheckBuffer(obj)) return cv_buffer_to_js(env, obj, out);
    /* Coroutines, asyncio and concurrent futures become Promises. */
    if (as_is_awaitable(st, obj)) return as_awaitable_to_js(env, obj, out);
    if (opts.pymport) return cv_pm_object(env, obj, opts, out);
    /* Callables become functions, everything else a PyObject proxy. */
    return pyp_wrap(env, obj, out);
error:
    return -1;
}
