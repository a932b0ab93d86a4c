/* compat.c - public-API equivalents of what newer CPython versions give
 * (compat.h). */
#include "compat.h"

#include <string.h>

#if PY_VERSION_HEX < 0x030D0000
atomic_int cp_exiting;
#endif

/* sys.unraisablehook's argument type (UnraisableHookArgs), which CPython
 * does not export: learnt once by reporting a dummy exception to a hook
 * that keeps its argument's type. Borrowed: a static type of the interpreter,
 * never freed. GIL held. */
static PyObject *cp_args_type;

static PyObject *cp_keep_type(PyObject *self, PyObject *args) {
    (void)self;
    cp_args_type = (PyObject *)Py_TYPE(args);
    Py_RETURN_NONE;
}

static PyMethodDef cp_keep_type_def = {"keep_type", cp_keep_type, METH_O, NULL};

static PyObject *cp_unraisable_args_type(void) {
    if (cp_args_type) return cp_args_type;
    PyObject *hook = PySys_GetObject("unraisablehook"); /* borrowed */
    PyObject *keeper = PyCFunction_New(&cp_keep_type_def, NULL);
    if (!keeper) return NULL;
    Py_XINCREF(hook);
    if (PySys_SetObject("unraisablehook", keeper) == 0) {
        PyErr_SetString(PyExc_RuntimeError, "probe");
        PyErr_WriteUnraisable(NULL);
        PySys_SetObject("unraisablehook", hook);
    }
    Py_XDECREF(hook);
    Py_DECREF(keeper);
    if (!cp_args_type && !PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "cannot learn sys.unraisablehook's argument type");
    return cp_args_type;
}

void cp_write_unraisable_for(const char *where, PyObject *obj) {
    PyObject *exc = cp_err_take();
    PyObject *type = cp_unraisable_args_type();
    PyObject *hook = PySys_GetObject("unraisablehook"); /* borrowed */
    PyObject *msg = PyUnicode_FromFormat("Exception ignored %s", where);
    PyObject *args = NULL, *res = NULL;
    if (exc && type && hook && msg) {
        PyObject *tb = PyException_GetTraceback(exc);
        args = PyObject_CallFunction(type, "((OOOOO))", (PyObject *)Py_TYPE(exc), exc,
                                     tb ? tb : Py_None, msg, obj ? obj : Py_None);
        Py_XDECREF(tb);
        if (args) res = PyObject_CallOneArg(hook, args);
    }
    Py_XDECREF(msg);
    Py_XDECREF(args);
    if (!res && exc) {
        /* The hook failed (or could not be called): the default report. */
        PyErr_Clear();
        cp_err_restore(exc);
        PyErr_WriteUnraisable(NULL);
        exc = NULL;
    }
    Py_XDECREF(res);
    Py_XDECREF(exc);
    PyErr_Clear();
}

#if PY_VERSION_HEX >= 0x030D0000

void cp_write_unraisable(const char *where) {
    PyErr_FormatUnraisable("Exception ignored %s", where);
}

#else

void cp_write_unraisable(const char *where) { cp_write_unraisable_for(where, NULL); }

#endif

/* int.bit_length, int.to_bytes and int.from_bytes: public on every version,
 * and linear in the size. Only integers beyond 2**53 (BigInts) come here. */

/* Returns a new reference: v (an int or an int subclass) as an exact int,
 * made by int's own slot, so that a subclass's __abs__, __lt__ or bit_length
 * cannot change what is read. */
static PyObject *cp_exact_long(PyObject *v) {
    if (PyLong_CheckExact(v)) return Py_NewRef(v);
    return PyLong_Type.tp_as_number->nb_int(v);
}

int cp_long_magnitude_size(PyObject *v, size_t *nbytes, int *negative) {
    PyObject *exact = cp_exact_long(v);
    if (!exact) return -1;
    PyObject *zero = PyLong_FromLong(0);
    int neg = zero ? PyObject_RichCompareBool(exact, zero, Py_LT) : -1;
    Py_XDECREF(zero);
    PyObject *bits = neg < 0 ? NULL : PyObject_CallMethod(exact, "bit_length", NULL);
    Py_DECREF(exact);
    if (!bits) return -1;
    size_t n = PyLong_AsSize_t(bits);
    Py_DECREF(bits);
    if (n == (size_t)-1 && PyErr_Occurred()) return -1;
    *nbytes = (n + 7) / 8;
    *negative = neg;
    return 0;
}

int cp_long_magnitude_bytes(PyObject *v, unsigned char *buf, size_t nbytes) {
    PyObject *exact = cp_exact_long(v);
    if (!exact) return -1;
    PyObject *mag = PyNumber_Absolute(exact);
    Py_DECREF(exact);
    if (!mag) return -1;
    PyObject *bytes = PyObject_CallMethod(mag, "to_bytes", "ns", (Py_ssize_t)nbytes, "little");
    Py_DECREF(mag);
    if (!bytes) return -1;
    memcpy(buf, PyBytes_AS_STRING(bytes), nbytes);
    Py_DECREF(bytes);
    return 0;
}

PyObject *cp_long_from_magnitude(const unsigned char *buf, size_t nbytes, int negative) {
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)nbytes);
    if (!bytes) return NULL;
    PyObject *res = PyObject_CallMethod((PyObject *)&PyLong_Type, "from_bytes", "Os", bytes,
                                        "little");
    Py_DECREF(bytes);
    if (res && negative) Py_SETREF(res, PyNumber_Negative(res));
    return res;
}

_Thread_local int cp_conversion_depth;
