/* live.c - live containers (lv_): pymport_py.live(x), a Python list or dict
 * that JavaScript uses with plain JS syntax, without a copy
 * (docs/conversions.md#live-containers).
 *
 * In JS a live container is a Proxy (made by js/live.js) over an Array (for a
 * list or another MutableSequence) or a plain object (for a dict or another
 * MutableMapping). pyproxy.c keeps it as the Python object's proxy: it
 * converts back to the Python object, and the same Python object gives the
 * same Proxy while it is alive. The Proxy's handler holds an External of the
 * Python object (holding a strong reference, released by its finalizer with
 * the GIL), which its traps pass to the functions here: each trap is one call
 * from JS into C that reads or writes the Python object itself (nothing is
 * cached), taking the GIL only for what is the Python object's: a list's
 * indices and length, a dict's str keys. Other properties (methods, symbols)
 * resolve on the target, whose prototype (js/live.js) carries the Array or
 * Object methods and the list methods that do in one call what the generic
 * ones do in one call per element. Values read are converted as the items of
 * a copy are, except that lists and dicts among them are live too.
 *
 * The functions reach JS once, through binding.liveFunctions() during the
 * bootstrap of an environment, and js/live.js alone holds them: their first
 * argument is always one of the Externals made here.
 *
 * Every JS-facing function here runs on the JS thread of its environment with
 * its Node lock held, and takes the GIL itself, for the Python part only. */
#include "live.h"

#include "binding.h"
#include "calls.h"
#include "convert.h"
#include "errors.h"
#include "nodelock.h"
#include "pyproxy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <structmember.h>

/* ---- the Python type pymport_py.live ---- */

typedef struct {
    PyObject_HEAD
    PyObject *value; /* set once: the container */
    int mapping;     /* set once: 1 for a dict or MutableMapping, 0 for a list or MutableSequence */
} lv_object;

/* 1 if obj is an instance of collections.abc's class `name`, 0 if not, -1 on error. */
static int lv_is_abc(PyObject *obj, const char *name) {
    PyObject *abc = PyImport_ImportModule("collections.abc");
    if (!abc) return -1;
    PyObject *cls = PyObject_GetAttrString(abc, name);
    Py_DECREF(abc);
    if (!cls) return -1;
    int is = PyObject_IsInstance(obj, cls);
    Py_DECREF(cls);
    return is;
}

static PyObject *lv_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *value;
    int mapping;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "live() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O:live", &value)) return NULL;
    if (PyList_Check(value)) {
        mapping = 0;
    } else if (PyDict_Check(value)) {
        mapping = 1;
    } else {
        if ((mapping = lv_is_abc(value, "MutableMapping")) < 0) return NULL;
        int sequence = mapping ? 0 : lv_is_abc(value, "MutableSequence");
        if (sequence < 0) return NULL;
        if (!mapping && !sequence) {
            PyErr_Format(PyExc_TypeError,
                         "live() takes a list or a dict (or another MutableSequence or "
                         "MutableMapping), not %.200s; ref() passes any object by reference",
                         Py_TYPE(value)->tp_name);
            return NULL;
        }
    }
    lv_object *self = (lv_object *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->value = Py_NewRef(value);
    self->mapping = mapping;
    return (PyObject *)self;
}

static int lv_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((lv_object *)self)->value);
    return 0;
}

static int lv_clear(PyObject *self) {
    Py_CLEAR(((lv_object *)self)->value);
    return 0;
}

static void lv_dealloc(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    lv_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyObject *lv_repr(PyObject *self) {
    return PyUnicode_FromFormat("live(%R)", ((lv_object *)self)->value);
}

static PyMemberDef lv_members[] = {
    {"value", T_OBJECT_EX, offsetof(lv_object, value), READONLY, "The container."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot lv_slots[] = {
    {Py_tp_doc, "live(container): pass a list or dict (or another MutableSequence or "
                "MutableMapping) to JavaScript as a live Array or object: a Proxy that reads "
                "and writes the Python object at every access, never a copy."},
    {Py_tp_new, lv_new},
    {Py_tp_dealloc, lv_dealloc},
    {Py_tp_traverse, lv_traverse},
    {Py_tp_clear, lv_clear},
    {Py_tp_repr, lv_repr},
    {Py_tp_members, lv_members},
    {0, NULL},
};

static PyType_Spec lv_spec = {
    .name = "pymport_py.live",
    .basicsize = sizeof(lv_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = lv_slots,
};

int lv_setup_type(PyObject *module) {
    mod_state *st = mod_get_state(module);
    if (!(st->LiveType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &lv_spec, NULL))) return -1;
    return PyModule_AddObjectRef(module, "live", (PyObject *)st->LiveType);
}

int lv_check(mod_state *st, PyObject *obj) { return PyObject_TypeCheck(obj, st->LiveType); }

int lv_to_js(rt_env *env, PyObject *marker, napi_value *out) {
    lv_object *m = (lv_object *)marker;
    return pyp_wrap_as(env, m->value, m->mapping ? PYP_LIVE_DICT : PYP_LIVE_LIST, out);
}

/* ---- the Python side of the traps (GIL held) ---- */

/* A value read from a live container: lists and dicts are live too, anything
 * else converts as an item of a copy does (None is null). Node lock and GIL
 * held. Returns 0, or -1 with a Python exception. */
static int lv_value(rt_env *env, PyObject *v, napi_value *out) {
    if (PyList_Check(v)) return pyp_wrap_as(env, v, PYP_LIVE_LIST, out);
    if (PyDict_Check(v)) return pyp_wrap_as(env, v, PYP_LIVE_DICT, out);
    return cv_to_js(env, v, CV_NESTED, out);
}

/* The length of a list-like container, or -1 with an exception. */
static Py_ssize_t lv_len(PyObject *seq) {
    return PyList_CheckExact(seq) ? PyList_GET_SIZE(seq) : PyObject_Size(seq);
}

/* Item i of a list-like container: 0 with *item a new reference, 1 when it has
 * no item i, -1 with an exception. */
static int lv_item(PyObject *seq, Py_ssize_t i, PyObject **item) {
    if (PyList_CheckExact(seq)) {
        if (i >= PyList_GET_SIZE(seq)) return 1;
        *item = Py_NewRef(PyList_GET_ITEM(seq, i));
        return 0;
    }
    Py_ssize_t n = PyObject_Size(seq);
    if (n < 0) return -1;
    if (i >= n) return 1;
    if ((*item = PySequence_GetItem(seq, i))) return 0;
    if (!PyErr_ExceptionMatches(PyExc_IndexError)) return -1;
    PyErr_Clear();
    return 1;
}

/* seq[i:j] = items, a list (NULL: del seq[i:j]), for 0 <= i <= j <= len.
 * Other than a list, with the methods every MutableSequence has (del seq[i]
 * and insert: array.array, deque and UserList take no list for a slice).
 * Returns 0 or -1. */
static int lv_set_slice(PyObject *seq, Py_ssize_t i, Py_ssize_t j, PyObject *items) {
    if (PyList_CheckExact(seq)) return PyList_SetSlice(seq, i, j, items);
    for (Py_ssize_t k = i; k < j; k++)
        if (PySequence_DelItem(seq, i) < 0) return -1;
    for (Py_ssize_t k = 0; items && k < PyList_GET_SIZE(items); k++) {
        PyObject *res = PyObject_CallMethod(seq, "insert", "nO", i + k, PyList_GET_ITEM(items, k));
        if (!res) return -1;
        Py_DECREF(res);
    }
    return 0;
}

/* Returns a new reference: a list of seq[i:j], for 0 <= i <= j <= len. */
static PyObject *lv_get_slice(PyObject *seq, Py_ssize_t i, Py_ssize_t j) {
    if (PyList_CheckExact(seq)) return PyList_GetSlice(seq, i, j);
    PyObject *items = PyList_New(j - i);
    for (Py_ssize_t k = i; items && k < j; k++) {
        PyObject *item = PySequence_GetItem(seq, k);
        if (!item) Py_CLEAR(items);
        else PyList_SET_ITEM(items, k - i, item);
    }
    return items;
}

/* Appends `count` Nones to seq at n, its length (JS's holes read undefined;
 * a Python list has none). Returns 0 or -1. */
static int lv_pad(PyObject *seq, Py_ssize_t n, Py_ssize_t count) {
    PyObject *pad = PyList_New(count);
    if (!pad) return -1;
    for (Py_ssize_t k = 0; k < count; k++) PyList_SET_ITEM(pad, k, Py_NewRef(Py_None));
    int rc = lv_set_slice(seq, n, n, pad);
    Py_DECREF(pad);
    return rc;
}

/* seq[i] = v, appending when i is the length and padding with None beyond it
 * (an Array grows when an index past its end is set). Returns 0 or -1. */
static int lv_set_item(PyObject *seq, Py_ssize_t i, PyObject *v) {
    Py_ssize_t n = lv_len(seq);
    if (n < 0) return -1;
    if (i < n) return PyList_CheckExact(seq) ? PyList_SetItem(seq, i, Py_NewRef(v))
                                             : PySequence_SetItem(seq, i, v);
    if (i > n && lv_pad(seq, n, i - n) < 0) return -1;
    if (PyList_CheckExact(seq)) return PyList_Append(seq, v);
    PyObject *res = PyObject_CallMethod(seq, "append", "(O)", v);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* L.length = length: truncates, or pads with None. Returns 0 or -1. */
static int lv_set_length(PyObject *seq, Py_ssize_t length) {
    Py_ssize_t n = lv_len(seq);
    if (n < 0) return -1;
    if (length < n) return lv_set_slice(seq, length, n, NULL);
    if (length > n) return lv_pad(seq, n, length - n);
    return 0;
}

/* Returns a new reference: a list of the converted values of the JS array
 * arr, or NULL with an exception. */
static PyObject *lv_py_items(rt_env *env, napi_value arr) {
    uint32_t n;
    NAPI_OK(env, napi_get_array_length(env->napi, arr, &n));
    PyObject *items = PyList_New(n);
    for (uint32_t i = 0; items && i < n; i++) {
        napi_value v;
        PyObject *py;
        if (napi_get_element(env->napi, arr, i, &v) != napi_ok || !(py = cv_to_py(env, v))) {
            if (!PyErr_Occurred()) er_from_status(env, napi_generic_failure);
            Py_CLEAR(items);
            break;
        }
        PyList_SET_ITEM(items, i, py);
    }
    return items;
error:
    return NULL;
}

/* An Array of the values of the list `items` (a slice), converted as
 * lv_value does. Returns 0 or -1. */
static int lv_js_items(rt_env *env, PyObject *items, napi_value *out) {
    Py_ssize_t n = PyList_GET_SIZE(items);
    NAPI_OK(env, napi_create_array_with_length(env->napi, (size_t)n, out));
    for (Py_ssize_t k = 0; k < n; k++) {
        napi_value v;
        /* A conversion may run Python code (a callable's __name__): the
         * slice is ours, but its item needs a reference of its own. */
        PyObject *item = Py_NewRef(PyList_GET_ITEM(items, k));
        int rc = lv_value(env, item, &v);
        Py_DECREF(item);
        if (rc < 0) return -1;
        NAPI_OK(env, napi_set_element(env->napi, *out, (uint32_t)k, v));
    }
    return 0;
error:
    return -1;
}

/* A relative index of an Array method (an integer, or +-Infinity: js/live.js
 * did ToIntegerOrInfinity) as an index in 0..n. */
static Py_ssize_t lv_clamp(double rel, Py_ssize_t n) {
    if (isnan(rel)) return 0;
    if (rel < 0) rel += (double)n;
    return rel < 0 ? 0 : rel > (double)n ? n : (Py_ssize_t)rel;
}

/* The value of key k of a dict-like container: 0 with *value a new reference,
 * 1 when it has none, -1 with an exception. A missing key never reaches
 * __missing__: a defaultdict does not grow when JS looks up `then` or
 * `toJSON`. */
static int lv_lookup(PyObject *map, PyObject *k, PyObject **value) {
    if (PyDict_CheckExact(map)) {
        PyObject *v = PyDict_GetItemWithError(map, k);
        if (!v) return PyErr_Occurred() ? -1 : 1;
        *value = Py_NewRef(v);
        return 0;
    }
    int has = PySequence_Contains(map, k);
    if (has <= 0) return has < 0 ? -1 : 1;
    if ((*value = PyObject_GetItem(map, k))) return 0;
    if (!PyErr_ExceptionMatches(PyExc_KeyError)) return -1;
    PyErr_Clear();
    return 1;
}

/* A dict's value for the JS string `key`: as lv_lookup, the value converted. */
static int lv_dict_read(rt_env *env, PyObject *map, napi_value key, napi_value *out) {
    PyObject *k = cv_string_to_py(env, key), *v = NULL;
    if (!k) return -1;
    int rc = lv_lookup(map, k, &v);
    Py_DECREF(k);
    if (rc == 0) {
        rc = lv_value(env, v, out);
        Py_DECREF(v);
    }
    return rc;
}

/* ---- JS-facing helpers (Node lock held) ---- */

#define LV_LENGTH (-1) /* the key "length" of a list */
#define LV_OTHER (-2)  /* any other key of a list: a symbol, a name that is no index */

/* What the property key `key` is to a list: an index (0 .. 2**32 - 2, the
 * canonical decimal form, as an Array's), LV_LENGTH or LV_OTHER. No GIL. */
static int64_t lv_list_key(napi_env napi, napi_value key) {
    napi_valuetype type;
    char16_t s[12];
    size_t len = 0;
    if (napi_typeof(napi, key, &type) != napi_ok || type != napi_string) return LV_OTHER;
    /* A longer string is cut to 11 units: no index has more than 10 digits. */
    if (napi_get_value_string_utf16(napi, key, s, sizeof s / sizeof *s, &len) != napi_ok) return LV_OTHER;
    static const char16_t length[] = {'l', 'e', 'n', 'g', 't', 'h'};
    if (len == 6 && memcmp(s, length, sizeof length) == 0) return LV_LENGTH;
    if (len == 0 || len > 10 || (s[0] == '0' && len > 1)) return LV_OTHER;
    int64_t i = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] < '0' || s[k] > '9') return LV_OTHER;
        i = i * 10 + (s[k] - '0');
    }
    return i <= 4294967294LL ? i : LV_OTHER;
}

/* 1 if key is a string, 0 for a symbol. No GIL. */
static int lv_is_name(napi_env napi, napi_value key) {
    napi_valuetype type;
    return napi_typeof(napi, key, &type) == napi_ok && type == napi_string;
}

/* Throws a TypeError `message` with %s the key (a name, or "a symbol").
 * Returns NULL. */
static napi_value lv_throw_key(napi_env napi, napi_value key, const char *message) {
    char name[80] = "a symbol", text[400];
    if (lv_is_name(napi, key)) {
        size_t len = 0;
        name[0] = '\'';
        /* Unchecked: a name that cannot be read stays empty in the message. */
        napi_get_value_string_utf8(napi, key, name + 1, sizeof name - 2, &len);
        name[len + 1] = '\'';
        name[len + 2] = '\0';
    }
    snprintf(text, sizeof text, message, name);
    napi_throw_type_error(napi, NULL, text);
    return NULL;
}

/* Takes the GIL for the Python part of a trap or method on the container of
 * the External `ext`. Returns the container (borrowed: ext keeps it alive), or
 * NULL with a JS exception thrown and no GIL taken. */
static PyObject *lv_begin(rt_env *env, napi_value ext, PyGILState_STATE *gil) {
    void *obj = NULL;
    if (napi_get_value_external(env->napi, ext, &obj) != napi_ok || !obj) {
        napi_throw_type_error(env->napi, NULL, "not a live Python container");
        return NULL;
    }
    if (cp_is_finalizing()) {
        napi_throw_error(env->napi, NULL, "the Python interpreter is shutting down");
        return NULL;
    }
    *gil = PyGILState_Ensure();
    nl_begin_python_callback();
    return obj;
}

/* Ends lv_begin. rc < 0: the Python exception is thrown into JS (as every
 * Python call from JS throws it). Returns rc. */
static int lv_end(rt_env *env, PyGILState_STATE gil, int rc) {
    nl_end_python_callback();
    if (rc < 0) er_throw_to_js(env);
    PyGILState_Release(gil);
    return rc;
}

/* A property descriptor of a data property {value, writable: true,
 * enumerable, configurable}, or NULL with a JS exception. */
static napi_value lv_descriptor(napi_env napi, napi_value value, bool enumerable, bool configurable) {
    napi_value out, yes, e, c;
    JS_TRY(napi, napi_get_boolean(napi, true, &yes));
    JS_TRY(napi, napi_get_boolean(napi, enumerable, &e));
    JS_TRY(napi, napi_get_boolean(napi, configurable, &c));
    napi_property_descriptor props[] = {
        {"value", NULL, NULL, NULL, NULL, value, napi_default_jsproperty, NULL},
        {"writable", NULL, NULL, NULL, NULL, yes, napi_default_jsproperty, NULL},
        {"enumerable", NULL, NULL, NULL, NULL, e, napi_default_jsproperty, NULL},
        {"configurable", NULL, NULL, NULL, NULL, c, napi_default_jsproperty, NULL},
    };
    JS_TRY(napi, napi_create_object(napi, &out));
    JS_TRY(napi, napi_define_properties(napi, out, 4, props));
    return out;
js_error:
    return NULL;
}

/* Reads the JS arguments of a binding call into argv (missing: undefined). */
#define LV_ARGS(n)                                                           \
    napi_value argv[n];                                                      \
    size_t argc = n;                                                         \
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, argv, NULL, NULL));     \
    rt_env *env = bd_env_of(napi);                                           \
    PyGILState_STATE gil

/* ---- the traps of a list: (ext, key, target), (ext, key, value), (ext, key), (ext) ---- */

/* A list's index or length read: *out set, 0; 1 when there is no such item;
 * -1 with an exception. */
static int lv_list_read(rt_env *env, PyObject *seq, int64_t key, napi_value *out) {
    if (key == LV_LENGTH) {
        Py_ssize_t n = lv_len(seq);
        if (n < 0) return -1;
        NAPI_OK(env, napi_create_int64(env->napi, n, out));
        return 0;
    }
    PyObject *item;
    int rc = lv_item(seq, (Py_ssize_t)key, &item);
    if (rc != 0) return rc;
    rc = lv_value(env, item, out);
    Py_DECREF(item);
    return rc;
error:
    return -1;
}

/* get: an item (undefined past the end, as an Array's), the length, or the
 * target's property (the methods of js/live.js and Array.prototype). */
static napi_value lv_list_get(napi_env napi, napi_callback_info info) {
    LV_ARGS(3);
    napi_value out = NULL;
    int64_t key = lv_list_key(napi, argv[1]);
    if (key == LV_OTHER) {
        JS_TRY(napi, napi_get_property(napi, argv[2], argv[1], &out));
        return out;
    }
    PyObject *seq = lv_begin(env, argv[0], &gil);
    if (!seq) return NULL;
    return lv_end(env, gil, lv_list_read(env, seq, key, &out)) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* A value assigned to `length`, as ArraySetLength takes it. Returns 0, or -1
 * with a JS exception (RangeError for anything but an integer 0 .. 2**32-1). */
static int lv_array_length(napi_env napi, napi_value value, double *length) {
    napi_value number;
    JS_TRY(napi, napi_coerce_to_number(napi, value, &number));
    JS_TRY(napi, napi_get_value_double(napi, number, length));
    if (!(*length >= 0 && *length <= 4294967295.0 && *length == floor(*length))) {
        napi_throw_range_error(napi, NULL, "Invalid array length");
        return -1;
    }
    return 0;
js_error:
    return -1;
}

/* set: an item (appending at the length, padding with None past it) or the
 * length (truncating or padding); any other key throws TypeError. */
static napi_value lv_list_set(napi_env napi, napi_callback_info info) {
    LV_ARGS(3);
    napi_value out;
    double length = 0;
    int rc;
    JS_TRY(napi, napi_get_boolean(napi, true, &out));
    int64_t key = lv_list_key(napi, argv[1]);
    if (key == LV_OTHER)
        return lv_throw_key(napi, argv[1],
                            "Cannot set %s of a live Python list: it has only items and a length");
    if (key == LV_LENGTH && lv_array_length(napi, argv[2], &length) < 0) return NULL;
    PyObject *seq = lv_begin(env, argv[0], &gil);
    if (!seq) return NULL;
    if (key == LV_LENGTH) {
        rc = lv_set_length(seq, (Py_ssize_t)length);
    } else {
        PyObject *v = cv_to_py(env, argv[2]);
        rc = v ? lv_set_item(seq, (Py_ssize_t)key, v) : -1;
        Py_XDECREF(v);
    }
    return lv_end(env, gil, rc) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* has: an index below the length, `length`, or what the target has. */
static napi_value lv_list_has(napi_env napi, napi_callback_info info) {
    LV_ARGS(3);
    napi_value out;
    bool has = true;
    int64_t key = lv_list_key(napi, argv[1]);
    if (key == LV_OTHER) {
        JS_TRY(napi, napi_has_property(napi, argv[2], argv[1], &has));
    } else if (key != LV_LENGTH) {
        PyObject *seq = lv_begin(env, argv[0], &gil);
        if (!seq) return NULL;
        Py_ssize_t n = lv_len(seq);
        if (lv_end(env, gil, n < 0 ? -1 : 0) < 0) return NULL;
        has = key < n;
    }
    JS_TRY(napi, napi_get_boolean(napi, has, &out));
    return out;
js_error:
    return NULL;
}

/* deleteProperty: `delete L[i]` leaves a hole, as in an Array: the item
 * becomes None and the length stays. `length` cannot be deleted. */
static napi_value lv_list_delete(napi_env napi, napi_callback_info info) {
    LV_ARGS(2);
    napi_value out;
    int64_t key = lv_list_key(napi, argv[1]);
    if (key >= 0) {
        PyObject *seq = lv_begin(env, argv[0], &gil);
        if (!seq) return NULL;
        Py_ssize_t n = lv_len(seq);
        int rc = n < 0 ? -1 : key < n ? lv_set_item(seq, (Py_ssize_t)key, Py_None) : 0;
        if (lv_end(env, gil, rc) < 0) return NULL;
    }
    JS_TRY(napi, napi_get_boolean(napi, key != LV_LENGTH, &out));
    return out;
js_error:
    return NULL;
}

/* ownKeys: the indices, then `length` (the target's non-configurable own
 * property, which the Proxy must report). */
static napi_value lv_list_keys(napi_env napi, napi_callback_info info) {
    LV_ARGS(1);
    napi_value out, name;
    char digits[24];
    PyObject *seq = lv_begin(env, argv[0], &gil);
    if (!seq) return NULL;
    Py_ssize_t n = lv_len(seq);
    if (lv_end(env, gil, n < 0 ? -1 : 0) < 0) return NULL;
    JS_TRY(napi, napi_create_array_with_length(napi, (size_t)n + 1, &out));
    for (Py_ssize_t k = 0; k < n; k++) {
        int len = snprintf(digits, sizeof digits, "%zd", k);
        JS_TRY(napi, napi_create_string_latin1(napi, digits, (size_t)len, &name));
        JS_TRY(napi, napi_set_element(napi, out, (uint32_t)k, name));
    }
    JS_TRY(napi, napi_create_string_latin1(napi, "length", 6, &name));
    JS_TRY(napi, napi_set_element(napi, out, (uint32_t)n, name));
    return out;
js_error:
    return NULL;
}

/* getOwnPropertyDescriptor: an item's (writable, enumerable, configurable),
 * the length's as an Array's (writable only), else none. */
static napi_value lv_list_descriptor(napi_env napi, napi_callback_info info) {
    LV_ARGS(2);
    napi_value value = NULL;
    int64_t key = lv_list_key(napi, argv[1]);
    if (key == LV_OTHER) return NULL;
    PyObject *seq = lv_begin(env, argv[0], &gil);
    if (!seq) return NULL;
    if (lv_end(env, gil, lv_list_read(env, seq, key, &value)) != 0) return NULL;
    return lv_descriptor(napi, value, key != LV_LENGTH, key != LV_LENGTH);
js_error:
    return NULL;
}

/* ---- the methods of a list (js/live.js): (ext, ...) ---- */

/* liveListLength(list) */
static napi_value lv_list_length(napi_env napi, napi_callback_info info) {
    LV_ARGS(1);
    napi_value out = NULL;
    PyObject *seq = lv_begin(env, argv[0], &gil);
    if (!seq) return NULL;
    return lv_end(env, gil, lv_list_read(env, seq, LV_LENGTH, &out)) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* liveListAt(list, i): item i, or `done` past the end (the iterators and the
 * callback methods: one call per item). */
static napi_value lv_list_at(napi_env napi, napi_callback_info info) {
    LV_ARGS(2);
    napi_value out = NULL;
    double i;
    JS_TRY(napi, napi_get_value_double(napi, argv[1], &i));
    if (!(i >= 0 && i < 9007199254740992.0)) return cl_helper_value(env, RT_H_DONE);
    PyObject *seq = lv_begin(env, argv[0], &gil);
    if (!seq) return NULL;
    int rc = lv_end(env, gil, lv_list_read(env, seq, (int64_t)i, &out));
    return rc == 1 ? cl_helper_value(env, RT_H_DONE) : rc == 0 ? out : NULL;
js_error:
    return NULL;
}

/* liveListInsert(list, at, items): inserts the items at the relative index
 * `at` (Infinity: push, 0: unshift); returns the new length. */
static napi_value lv_list_insert(napi_env napi, napi_callback_info info) {
    LV_ARGS(3);
    napi_value out = NULL;
    double at;
    JS_TRY(napi, napi_get_value_double(napi, argv[1], &at));
    PyObject *seq = lv_begin(env, argv[0], &gil), *items = NULL;
    if (!seq) return NULL;
    int rc = -1;
    Py_ssize_t n = lv_len(seq);
    if (n >= 0 && (items = lv_py_items(env, argv[2]))) {
        Py_ssize_t i = lv_clamp(at, n);
        if (lv_set_slice(seq, i, i, items) == 0) rc = lv_list_read(env, seq, LV_LENGTH, &out);
    }
    Py_XDECREF(items);
    return lv_end(env, gil, rc) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* liveListPop(list, first): removes and returns the last item (the first
 * when `first`), or undefined when the list is empty. */
static napi_value lv_list_pop(napi_env napi, napi_callback_info info) {
    LV_ARGS(2);
    napi_value out = NULL;
    bool first = false;
    JS_TRY(napi, napi_get_value_bool(napi, argv[1], &first));
    PyObject *seq = lv_begin(env, argv[0], &gil), *item = NULL;
    if (!seq) return NULL;
    int rc = -1;
    Py_ssize_t n = lv_len(seq);
    if (n == 0) {
        rc = 1;
    } else if (n > 0) {
        Py_ssize_t i = first ? 0 : n - 1;
        if (PyList_CheckExact(seq)) {
            item = Py_NewRef(PyList_GET_ITEM(seq, i));
            if (PyList_SetSlice(seq, i, i + 1, NULL) < 0) Py_CLEAR(item);
        } else {
            item = PyObject_CallMethod(seq, "pop", "n", i);
        }
        if (item) rc = lv_value(env, item, &out);
    }
    Py_XDECREF(item);
    return lv_end(env, gil, rc) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* liveListSplice(list, start, deleteCount, items): Array.prototype.splice
 * with start and deleteCount relative as js/live.js computed them; returns the
 * removed items. */
static napi_value lv_list_splice(napi_env napi, napi_callback_info info) {
    LV_ARGS(4);
    napi_value out = NULL;
    double start, count;
    JS_TRY(napi, napi_get_value_double(napi, argv[1], &start));
    JS_TRY(napi, napi_get_value_double(napi, argv[2], &count));
    PyObject *seq = lv_begin(env, argv[0], &gil), *items = NULL, *removed = NULL;
    if (!seq) return NULL;
    int rc = -1;
    Py_ssize_t n = lv_len(seq);
    if (n >= 0 && (items = lv_py_items(env, argv[3]))) {
        Py_ssize_t i = lv_clamp(start, n);
        Py_ssize_t j = i + (count > 0 ? lv_clamp(count, n - i) : 0);
        removed = lv_get_slice(seq, i, j);
        if (removed && lv_set_slice(seq, i, j, items) == 0) rc = lv_js_items(env, removed, &out);
    }
    Py_XDECREF(items);
    Py_XDECREF(removed);
    return lv_end(env, gil, rc) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* liveListSlice(list, start, end): the items from start to end (relative),
 * as an Array. */
static napi_value lv_list_slice(napi_env napi, napi_callback_info info) {
    LV_ARGS(3);
    napi_value out = NULL;
    double start, end;
    JS_TRY(napi, napi_get_value_double(napi, argv[1], &start));
    JS_TRY(napi, napi_get_value_double(napi, argv[2], &end));
    PyObject *seq = lv_begin(env, argv[0], &gil), *items = NULL;
    if (!seq) return NULL;
    int rc = -1;
    Py_ssize_t n = lv_len(seq);
    if (n >= 0) {
        Py_ssize_t i = lv_clamp(start, n), j = lv_clamp(end, n);
        if (j < i) j = i;
        items = lv_get_slice(seq, i, j);
        if (items) rc = lv_js_items(env, items, &out);
    }
    Py_XDECREF(items);
    return lv_end(env, gil, rc) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* The first index k >= from whose item is `search` (===, or SameValueZero
 * when `zero`: NaN finds NaN), or -1. */
static int lv_index_of(rt_env *env, PyObject *seq, napi_value search, double from, bool zero,
                       int64_t *found) {
    napi_valuetype type;
    double d = 0;
    *found = -1;
    NAPI_OK(env, napi_typeof(env->napi, search, &type));
    if (type == napi_number) NAPI_OK(env, napi_get_value_double(env->napi, search, &d));
    bool nan = zero && type == napi_number && isnan(d);
    Py_ssize_t n = lv_len(seq);
    if (n < 0) return -1;
    if (from >= (double)n) return 0;
    for (Py_ssize_t k = lv_clamp(from, n);; k++) {
        PyObject *item;
        int rc = lv_item(seq, k, &item);
        if (rc != 0) return rc < 0 ? -1 : 0;
        bool same;
        if (nan) {
            same = PyFloat_Check(item) && isnan(PyFloat_AS_DOUBLE(item));
        } else {
            /* One handle scope per item: a long list makes no pile of them. */
            napi_handle_scope scope;
            napi_value v;
            NAPI_OK(env, napi_open_handle_scope(env->napi, &scope));
            rc = lv_value(env, item, &v);
            if (rc == 0 && napi_strict_equals(env->napi, v, search, &same) != napi_ok)
                rc = er_from_status(env, napi_generic_failure);
            napi_close_handle_scope(env->napi, scope); /* unchecked: it was opened above */
        }
        Py_DECREF(item);
        if (rc < 0) return -1;
        if (same) {
            *found = k;
            return 0;
        }
    }
error:
    return -1;
}

/* liveListIndexOf(list, search, from, zero): indexOf (zero false) and
 * includes (zero true), from relative. */
static napi_value lv_list_index_of(napi_env napi, napi_callback_info info) {
    LV_ARGS(4);
    napi_value out = NULL;
    double from;
    bool zero = false;
    int64_t found = -1;
    JS_TRY(napi, napi_get_value_double(napi, argv[2], &from));
    JS_TRY(napi, napi_get_value_bool(napi, argv[3], &zero));
    PyObject *seq = lv_begin(env, argv[0], &gil);
    if (!seq) return NULL;
    if (lv_end(env, gil, lv_index_of(env, seq, argv[1], from, zero, &found)) < 0) return NULL;
    JS_TRY(napi, napi_create_int64(napi, found, &out));
    return out;
js_error:
    return NULL;
}

/* ---- the traps of a dict, its str keys: as a list's ---- */

/* get: the value of a key, else the target's property (Object.prototype's). */
static napi_value lv_dict_get(napi_env napi, napi_callback_info info) {
    LV_ARGS(3);
    napi_value out = NULL;
    if (lv_is_name(napi, argv[1])) {
        PyObject *map = lv_begin(env, argv[0], &gil);
        if (!map) return NULL;
        int rc = lv_end(env, gil, lv_dict_read(env, map, argv[1], &out));
        if (rc != 1) return rc == 0 ? out : NULL;
    }
    JS_TRY(napi, napi_get_property(napi, argv[2], argv[1], &out));
    return out;
js_error:
    return NULL;
}

/* set: d[key] = value; a symbol key throws TypeError. */
static napi_value lv_dict_set(napi_env napi, napi_callback_info info) {
    LV_ARGS(3);
    napi_value out;
    JS_TRY(napi, napi_get_boolean(napi, true, &out));
    if (!lv_is_name(napi, argv[1]))
        return lv_throw_key(napi, argv[1], "Cannot set %s on a live Python dict: its keys are strings");
    PyObject *map = lv_begin(env, argv[0], &gil);
    if (!map) return NULL;
    int rc = -1;
    PyObject *k = cv_string_to_py(env, argv[1]), *v = k ? cv_to_py(env, argv[2]) : NULL;
    if (v) rc = PyDict_CheckExact(map) ? PyDict_SetItem(map, k, v) : PyObject_SetItem(map, k, v);
    Py_XDECREF(k);
    Py_XDECREF(v);
    return lv_end(env, gil, rc) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* has: `key in d`, else what the target has (inherited names). */
static napi_value lv_dict_has(napi_env napi, napi_callback_info info) {
    LV_ARGS(3);
    napi_value out;
    bool has = false;
    if (lv_is_name(napi, argv[1])) {
        PyObject *map = lv_begin(env, argv[0], &gil);
        if (!map) return NULL;
        PyObject *k = cv_string_to_py(env, argv[1]);
        int rc = !k ? -1 : PyDict_CheckExact(map) ? PyDict_Contains(map, k) : PySequence_Contains(map, k);
        Py_XDECREF(k);
        if (lv_end(env, gil, rc < 0 ? -1 : 0) < 0) return NULL;
        has = rc == 1;
    }
    if (!has) JS_TRY(napi, napi_has_property(napi, argv[2], argv[1], &has));
    JS_TRY(napi, napi_get_boolean(napi, has, &out));
    return out;
js_error:
    return NULL;
}

/* deleteProperty: del d[key]; a missing key is no error, as in JS. */
static napi_value lv_dict_delete(napi_env napi, napi_callback_info info) {
    LV_ARGS(2);
    napi_value out;
    if (lv_is_name(napi, argv[1])) {
        PyObject *map = lv_begin(env, argv[0], &gil);
        if (!map) return NULL;
        PyObject *k = cv_string_to_py(env, argv[1]);
        int rc = !k ? -1 : PyDict_CheckExact(map) ? PyDict_DelItem(map, k) : PyObject_DelItem(map, k);
        Py_XDECREF(k);
        if (rc < 0 && PyErr_ExceptionMatches(PyExc_KeyError)) {
            PyErr_Clear();
            rc = 0;
        }
        if (lv_end(env, gil, rc) < 0) return NULL;
    }
    JS_TRY(napi, napi_get_boolean(napi, true, &out));
    return out;
js_error:
    return NULL;
}

/* The str keys of a dict-like container, in its order, as JS strings (and,
 * when `values` is set, an object of them with their values converted: the
 * shallow copy that util.inspect shows). Returns 0 or -1. */
static int lv_dict_items(rt_env *env, PyObject *map, napi_value *out, int values) {
    PyObject *keys = PyDict_CheckExact(map) ? PyDict_Keys(map) : PyMapping_Keys(map);
    PyObject *fast = keys ? PySequence_Fast(keys, "keys() is not a sequence") : NULL;
    int rc = -1;
    uint32_t count = 0;
    Py_XDECREF(keys);
    if (!fast) return -1;
    if (values)
        NAPI_OK(env, napi_create_object(env->napi, out));
    else
        NAPI_OK(env, napi_create_array(env->napi, out));
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
        PyObject *k = PySequence_Fast_GET_ITEM(fast, i), *v = NULL;
        napi_value jk, jv;
        if (!PyUnicode_Check(k)) continue;
        if (cv_to_js(env, k, CV_NESTED, &jk) < 0) goto error;
        if (!values) {
            NAPI_OK(env, napi_set_element(env->napi, *out, count++, jk));
            continue;
        }
        int found = lv_lookup(map, k, &v);
        if (found < 0) goto error;
        if (found == 1) continue; /* gone since keys() */
        found = lv_value(env, v, &jv);
        Py_DECREF(v);
        if (found < 0) goto error;
        NAPI_OK(env, napi_set_property(env->napi, *out, jk, jv));
    }
    rc = 0;
error:
    Py_DECREF(fast);
    return rc;
}

/* ownKeys: the str keys. */
static napi_value lv_dict_keys(napi_env napi, napi_callback_info info) {
    LV_ARGS(1);
    napi_value out = NULL;
    PyObject *map = lv_begin(env, argv[0], &gil);
    if (!map) return NULL;
    return lv_end(env, gil, lv_dict_items(env, map, &out, 0)) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* getOwnPropertyDescriptor: a key's (writable, enumerable, configurable), or
 * none. */
static napi_value lv_dict_descriptor(napi_env napi, napi_callback_info info) {
    LV_ARGS(2);
    napi_value value = NULL;
    if (!lv_is_name(napi, argv[1])) return NULL;
    PyObject *map = lv_begin(env, argv[0], &gil);
    if (!map) return NULL;
    if (lv_end(env, gil, lv_dict_read(env, map, argv[1], &value)) != 0) return NULL;
    return lv_descriptor(napi, value, true, true);
js_error:
    return NULL;
}

/* liveDictCopy(dict): a plain object of its str keys and their values. */
static napi_value lv_dict_copy(napi_env napi, napi_callback_info info) {
    LV_ARGS(1);
    napi_value out = NULL;
    PyObject *map = lv_begin(env, argv[0], &gil);
    if (!map) return NULL;
    return lv_end(env, gil, lv_dict_items(env, map, &out, 1)) == 0 ? out : NULL;
js_error:
    return NULL;
}

/* binding.liveFunctions(): an object of the functions above, for js/live.js
 * during the bootstrap of the environment; afterwards it throws, so that no
 * other code calls them with anything but the Externals they expect. */
static napi_value lv_js_functions(napi_env napi, napi_callback_info info) {
    (void)info;
#define LV_FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}
    napi_property_descriptor props[] = {
        LV_FN("listGet", lv_list_get),
        LV_FN("listSet", lv_list_set),
        LV_FN("listHas", lv_list_has),
        LV_FN("listDelete", lv_list_delete),
        LV_FN("listKeys", lv_list_keys),
        LV_FN("listDescriptor", lv_list_descriptor),
        LV_FN("listLength", lv_list_length),
        LV_FN("listAt", lv_list_at),
        LV_FN("listInsert", lv_list_insert),
        LV_FN("listPop", lv_list_pop),
        LV_FN("listSplice", lv_list_splice),
        LV_FN("listSlice", lv_list_slice),
        LV_FN("listIndexOf", lv_list_index_of),
        LV_FN("dictGet", lv_dict_get),
        LV_FN("dictSet", lv_dict_set),
        LV_FN("dictHas", lv_dict_has),
        LV_FN("dictDelete", lv_dict_delete),
        LV_FN("dictKeys", lv_dict_keys),
        LV_FN("dictDescriptor", lv_dict_descriptor),
        LV_FN("dictCopy", lv_dict_copy),
    };
#undef LV_FN
    rt_env *env = bd_env_of(napi);
    napi_value out;
    if (env->helpers[RT_H_COUNT - 1]) {
        napi_throw_error(napi, NULL, "liveFunctions() is for the bootstrap of pymport_py");
        return NULL;
    }
    JS_TRY(napi, napi_create_object(napi, &out));
    JS_TRY(napi, napi_define_properties(napi, out, sizeof props / sizeof props[0], props));
    return out;
js_error:
    return NULL;
}

/* Releases the container that an External held. JS thread at GC, or the
 * environment's teardown; takes the GIL. */
static void lv_release(napi_env napi, void *data, void *hint) {
    (void)napi;
    (void)hint;
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return; /* Python is going away with the container */
    Py_DECREF((PyObject *)data);
    PyGILState_Release(gil);
}

int lv_new_proxy(rt_env *env, PyObject *obj, int mapping, napi_value *out) {
    napi_value argv[2], global;
    if (mapping)
        NAPI_OK(env, napi_create_object(env->napi, &argv[0]));
    else
        NAPI_OK(env, napi_create_array(env->napi, &argv[0]));
    Py_INCREF(obj);
    napi_status status = napi_create_external(env->napi, obj, lv_release, NULL, &argv[1]);
    if (status != napi_ok) {
        Py_DECREF(obj);
        return er_from_status(env, status);
    }
    /* js/live.js's maker runs no Python: called directly, with the GIL held. */
    NAPI_OK(env, napi_get_global(env->napi, &global));
    NAPI_OK(env, napi_call_function(env->napi, global, cl_helper_value(env, RT_H_LIVE), 2, argv, out));
    return 0;
error:
    return -1;
}

napi_status lv_define_binding(napi_env napi, napi_value exports) {
    napi_property_descriptor prop = {"liveFunctions", NULL, lv_js_functions, NULL, NULL, NULL,
                                     napi_default, NULL};
    return napi_define_properties(napi, exports, 1, &prop);
}
