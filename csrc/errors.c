/* errors.c - exception mapping both ways.
 *
 * JS -> Python: a thrown value becomes JSError (or the subclass named by the
 * Error's `name`), with name/message/stack/value; an Error that carries a
 * Python exception (pythonValue) gives back that very exception object.
 * Python -> JS: an exception becomes an Error with pythonType, pythonValue
 * (the exception, by reference) and pythonTrace; a JSError gives back the JS
 * value that was thrown. */
#include "errors.h"

#include "calls.h"
#include "convert.h"
#include "interrupts.h"
#include "jsproxy.h"
#include "pyproxy.h"

/* Borrowed. The Python class for a JS error name. */
static PyObject *er_class_for(mod_state *st, PyObject *name) {
    if (name == Py_None) return st->JSError;
    const char *n = PyUnicode_AsUTF8(name);
    if (!n) {
        PyErr_Clear();
        return st->JSError;
    }
    if (!strcmp(n, "TypeError")) return st->JSTypeError;
    if (!strcmp(n, "RangeError")) return st->JSRangeError;
    if (!strcmp(n, "SyntaxError")) return st->JSSyntaxError;
    if (!strcmp(n, "ReferenceError")) return st->JSReferenceError;
    return st->JSError;
}

/* Returns a new reference to item i of JS array `arr` as Python, or NULL. */
static PyObject *er_item(rt_env *env, napi_value arr, uint32_t i, napi_value *raw) {
    napi_value v;
    if (napi_get_element(env->napi, arr, i, &v) != napi_ok) return NULL;
    if (raw) *raw = v;
    return cv_to_py(env, v);
}

/* Sets `attr` on exc, ignoring failure (best effort on an error path). */
static void er_set(PyObject *exc, const char *attr, PyObject *value) {
    if (PyObject_SetAttrString(exc, attr, value ? value : Py_None) < 0) PyErr_Clear();
}

/* Builds [name, message, null, undefined, null] for an Error without running JS
 * functions. Returns 0, or -1 with no Python exception: it runs while one is
 * being made, so it must not recurse into er_from_status. */
#define ER_TRY(call)                                                          \
    do {                                                                      \
        if ((call) != napi_ok) goto error;                                    \
    } while (0)
static int er_describe_natively(rt_env *env, napi_value thrown, napi_value *out) {
    napi_value name, message, null, undefined, text;
    bool is_error = false;
    ER_TRY(napi_create_array_with_length(env->napi, 5, out));
    ER_TRY(napi_get_null(env->napi, &null));
    ER_TRY(napi_get_undefined(env->napi, &undefined));
    ER_TRY(napi_is_error(env->napi, thrown, &is_error));
    if (is_error && napi_get_named_property(env->napi, thrown, "name", &name) == napi_ok &&
        napi_get_named_property(env->napi, thrown, "message", &message) == napi_ok &&
        napi_coerce_to_string(env->napi, name, &name) == napi_ok &&
        napi_coerce_to_string(env->napi, message, &message) == napi_ok) {
        ER_TRY(napi_set_element(env->napi, *out, 0, name));
        ER_TRY(napi_set_element(env->napi, *out, 1, message));
    } else {
        napi_value ignored;
        napi_get_and_clear_last_exception(env->napi, &ignored);
        ER_TRY(napi_create_string_utf8(env->napi, "a JavaScript exception", NAPI_AUTO_LENGTH, &text));
        ER_TRY(napi_set_element(env->napi, *out, 0, null));
        ER_TRY(napi_set_element(env->napi, *out, 1, text));
    }
    ER_TRY(napi_set_element(env->napi, *out, 2, null));
    ER_TRY(napi_set_element(env->napi, *out, 3, undefined));
    ER_TRY(napi_set_element(env->napi, *out, 4, null));
    return 0;
error:
    return -1;
}
#undef ER_TRY

void er_from_js(rt_env *env, napi_value thrown) {
    mod_state *st = rt_state_of(env);
    PyObject *name = NULL, *message = NULL, *stack = NULL, *pyvalue = NULL, *code = NULL;
    PyObject *value = NULL;
    PyObject *text = NULL, *exc = NULL;
    napi_value desc, raw_message = NULL;

    if (cl_call_helper(env, RT_H_DESCRIBE, 1, &thrown, &desc) != napi_ok) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env->napi, &ignored);
        cl_take_exception(env, &ignored);
        if (atomic_load(&env->state) != RT_RUNNING) {
            rt_raise_closed(env);
            return;
        }
        /* No room to run JS (e.g. the stack overflowed): describe it from C. */
        if (er_describe_natively(env, thrown, &desc) < 0) {
            napi_get_and_clear_last_exception(env->napi, &ignored);
            PyErr_SetString(st->JSError, "a JavaScript exception (it could not be described)");
            return;
        }
    }
    if (!(name = er_item(env, desc, 0, NULL))) goto error;
    if (!(message = er_item(env, desc, 1, &raw_message))) goto error;
    if (!(stack = er_item(env, desc, 2, NULL))) goto error;
    if (!(pyvalue = er_item(env, desc, 3, NULL))) goto error;
    if (!(code = er_item(env, desc, 4, NULL))) goto error;
    if (PyExceptionInstance_Check(pyvalue)) {
        /* A Python exception that went through JS: raise the same object. */
        PyErr_Restore(Py_NewRef(Py_TYPE(pyvalue)), Py_NewRef(pyvalue),
                      PyException_GetTraceback(pyvalue));
        goto done;
    }
    if (!(value = cv_to_py(env, thrown))) goto error;
    PyObject *cls = er_class_for(st, name);
    if (name != Py_None)
        text = PyUnicode_FromFormat("%S: %S", name, message);
    else
        text = Py_NewRef(message);
    if (!text) goto error;
    if (!(exc = PyObject_CallOneArg(cls, text))) goto error;
    er_set(exc, "name", name);
    er_set(exc, "message", message);
    er_set(exc, "stack", stack);
    er_set(exc, "code", code);
    er_set(exc, "value", value);
    if (PyUnicode_Check(stack)) {
        /* Show the JS frames in Python tracebacks (a PEP 678 note). */
        PyObject *note = PyUnicode_FromFormat("JavaScript stack:\n%S", stack);
        if (note) {
            PyObject *r = PyObject_CallMethod(exc, "add_note", "O", note);
            Py_XDECREF(r);
            Py_DECREF(note);
        }
        PyErr_Clear();
    }
    PyErr_SetObject(cls, exc);
    goto done;
error:
    if (!PyErr_Occurred()) PyErr_SetString(st->JSError, "a JavaScript exception");
done:
    Py_XDECREF(name);
    Py_XDECREF(message);
    Py_XDECREF(stack);
    Py_XDECREF(pyvalue);
    Py_XDECREF(code);
    Py_XDECREF(value);
    Py_XDECREF(text);
    Py_XDECREF(exc);
}

int er_from_status(rt_env *env, napi_status status) {
    bool pending = false;
    napi_value exc = NULL;
    napi_is_exception_pending(env->napi, &pending);
    if (pending)
        napi_get_and_clear_last_exception(env->napi, &exc);
    else
        pending = cl_take_exception(env, &exc);
    if (ir_raise_interrupt(env) < 0) return -1;
    /* Every call cut short by process.exit() reports it, nested ones too. */
    if (atomic_load(&env->exit_requested) || atomic_load(&env->state) != RT_RUNNING)
        return rt_raise_cut_short(env);
    if (pending) {
        er_from_js(env, exc);
        return -1;
    }
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env->napi, &info);
    PyErr_Format(PyExc_RuntimeError, "Node-API call failed (status %d): %s", (int)status,
                 info && info->error_message ? info->error_message : "unknown error");
    return -1;
}

/* Returns a new reference: the formatted traceback of exc, or NULL. */
static PyObject *er_format_trace(PyObject *exc) {
    PyObject *tb = NULL, *lines = NULL, *empty = NULL, *text = NULL;
    if (!(tb = PyImport_ImportModule("traceback"))) goto done;
    if (!(lines = PyObject_CallMethod(tb, "format_exception", "O", exc))) goto done;
    if (!(empty = PyUnicode_FromString(""))) goto done;
    text = PyUnicode_Join(empty, lines);
done:
    Py_XDECREF(tb);
    Py_XDECREF(lines);
    Py_XDECREF(empty);
    return text;
}

int er_exception_to_js(rt_env *env, PyObject *value, napi_value *out) {
    return er_exception_to_js_as(env, value, 0, out);
}

int er_exception_to_js_as(rt_env *env, PyObject *value, int pymport_message, napi_value *out) {
    mod_state *st = rt_state_of(env);
    PyObject *message = NULL, *trace = NULL, *jsvalue = NULL, *str = NULL;
    int rc = -1;
    if (PyObject_TypeCheck(value, (PyTypeObject *)st->JSError) &&
        (jsvalue = PyObject_GetAttrString(value, "value")) != NULL && jsvalue != Py_None) {
        /* A JS exception coming back through Python: the original value. */
        if (cv_to_js(env, jsvalue, CV_ARG, out) == 0) {
            rc = 0;
            goto done;
        }
    }
    PyErr_Clear();
    if (!(str = PyObject_Str(value))) {
        PyErr_Clear();
        str = PyUnicode_FromString("<unprintable exception>");
    }
    const char *tname = Py_TYPE(value)->tp_name;
    if (!str) message = NULL;
    else if (pymport_message) message = PyUnicode_FromFormat("Python exception: %U", str);
    else message = PyUnicode_FromFormat("%s: %U", tname, str);
    trace = er_format_trace(value);
    napi_value args[4], fn, undefined;
    if (!message || !trace) goto done;
    /* As strings are converted everywhere: lone surrogates in a message survive. */
    if (cv_to_js(env, message, CV_ARG, &args[0]) < 0) goto done;
    NAPI_OK(env, napi_create_string_utf8(env->napi, tname, NAPI_AUTO_LENGTH, &args[1]));
    if (pyp_wrap(env, value, &args[2]) < 0) goto done;
    if (cv_to_js(env, trace, CV_ARG, &args[3]) < 0) goto done;
    if (!(fn = cl_helper_value(env, RT_H_PYERROR))) goto done;
    NAPI_OK(env, napi_get_undefined(env->napi, &undefined));
    NAPI_OK(env, napi_call_function(env->napi, undefined, fn, 4, args, out));
    rc = 0;
    goto done;
error:
done:
    Py_XDECREF(message);
    Py_XDECREF(trace);
    Py_XDECREF(jsvalue);
    Py_XDECREF(str);
    return rc;
}

PyObject *er_take(void) { return cp_err_take(); }

napi_value er_exception_value(rt_env *env, PyObject *value) {
    return er_exception_value_as(env, value, 0);
}

napi_value er_exception_value_as(rt_env *env, PyObject *value, int pymport_message) {
    napi_value out = NULL, ignored, message;
    if (value && er_exception_to_js_as(env, value, pymport_message, &out) == 0) return out;
    /* Out of stack or memory, most likely (deep recursion through both
     * languages): a RangeError, as JS's own stack overflow is, that still
     * names the Python type, made without running Python or JS code. */
    PyErr_Clear();
    napi_get_and_clear_last_exception(env->napi, &ignored);
    char text[256];
    snprintf(text, sizeof text, "%s: a Python exception (it could not be converted)",
             value ? Py_TYPE(value)->tp_name : "Exception");
    if (napi_create_string_utf8(env->napi, text, NAPI_AUTO_LENGTH, &message) != napi_ok ||
        napi_create_range_error(env->napi, NULL, message, &out) != napi_ok)
        return NULL;
    return out;
}

void er_throw_to_js(rt_env *env) {
    PyObject *value = er_take();
    napi_value out = er_exception_value(env, value);
    if (out) napi_throw(env->napi, out);
    else napi_throw_error(env->napi, NULL, "a Python exception (it could not be converted)");
    Py_XDECREF(value);
}

void er_throw_failed_call(napi_env napi, const char *call) {
    const napi_extended_error_info *info = NULL;
    char text[256];
    /* The reason first: the next Node-API call replaces it. */
    snprintf(text, sizeof text, "pymport_py: %s failed: %s", call,
             napi_get_last_error_info(napi, &info) == napi_ok && info && info->error_message
                 ? info->error_message
                 : "unknown Node-API error");
    bool pending = false;
    if (napi_is_exception_pending(napi, &pending) != napi_ok || pending) return;
    napi_throw_error(napi, NULL, text);
}

void er_unraisable(rt_env *env, napi_value err, const char *what) {
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return; /* sys.unraisablehook is gone */
    er_from_js(env, err);
    /* The report's object is the thrown JS object: the default hook prints
     * its repr, util.inspect, which is the JS stack (and the error's other
     * properties), as node prints an uncaught error. */
    PyObject *exc = cp_err_take(), *obj = NULL;
    if (exc && PyObject_TypeCheck(exc, (PyTypeObject *)rt_state_of(env)->JSError)) {
        obj = PyObject_GetAttrString(exc, "value");
        if (!obj) PyErr_Clear();
        else if (!jsp_check(rt_state_of(env), obj)) Py_CLEAR(obj);
    }
    cp_err_restore(exc);
    char where[128];
    snprintf(where, sizeof where, "in JavaScript (%s)", what);
    cp_write_unraisable_for(where, obj);
    Py_XDECREF(obj);
    PyGILState_Release(gil);
}
