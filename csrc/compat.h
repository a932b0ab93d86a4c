/* compat.h - the CPython and libuv version differences, in one place.
 *
 * pymport_py uses only public CPython API and no libuv struct fields. Where
 * the public API it wants is newer than the oldest version supported
 * (CPython 3.11, libuv 1.44), the older versions get an equivalent built from
 * public API here, behind version checks. */
#ifndef PYMPORT_COMPAT_H
#define PYMPORT_COMPAT_H

#include <Python.h>
#include <stdatomic.h>
#include <uv.h>

/* Py_DECREF and Py_XDECREF are inline functions that call the private
 * _Py_Dealloc when a count reaches zero. Py_DecRef, their public function
 * form (NULL-safe), does the same in one call. Py_CLEAR, Py_SETREF and
 * Py_XSETREF expand to these macros where they are used, so they follow. */
#undef Py_DECREF
#define Py_DECREF(op) Py_DecRef((PyObject *)(op))
#undef Py_XDECREF
#define Py_XDECREF(op) Py_DecRef((PyObject *)(op))

/* uv_backend_timeout() returns 0 while new I/O watchers wait to be added to
 * the backend fd from libuv 1.44 on: the runtime relies on that to know when
 * a call made on another thread must wake the loop thread. */
#if UV_VERSION_HEX < 0x012C00
#error "pymport_py needs libuv 1.44 or newer"
#endif

/* ---- interpreter finalization ---- */

#if PY_VERSION_HEX >= 0x030D0000
/* True once Python's finalization has begun. Any thread, GIL or not. */
static inline int cp_is_finalizing(void) { return Py_IsFinalizing(); }
static inline void cp_set_exiting(void) {}
#else
/* Before 3.13 no public call tells a thread without the GIL that Python is
 * finalizing (taking the GIL then ends the thread). pymport_py's exit hook,
 * which runs among the atexit callbacks before finalization, stops every
 * environment and sets this flag: after it no JavaScript of ours runs, so
 * nothing needs to enter Python any more. Process-wide, set once. */
extern atomic_int cp_exiting;
static inline int cp_is_finalizing(void) { return atomic_load(&cp_exiting); }
static inline void cp_set_exiting(void) { atomic_store(&cp_exiting, 1); }
#endif

/* Takes the GIL for a thread that Node runs (a loop thread, a worker_thread,
 * a finalizer), unless Python is finalizing: the thread would then block
 * forever (3.13+) or be ended (before). Returns 1 with the GIL taken, or 0. */
static inline int cp_gil_ensure(PyGILState_STATE *state) {
    if (cp_is_finalizing()) return 0;
    *state = PyGILState_Ensure();
    return 1;
}

/* ---- recursion in conversions ----
 *
 * Py_EnterRecursiveCall bounds nesting by Python's recursion limit only up to
 * 3.12; from 3.13 on by the C stack, which lets a conversion nest deeper than
 * V8's own stack limit allows (V8 then throws RangeError, or on Node 24 aborts
 * the process when an API call finds the stack pointer past its limit).
 * Conversions also count their depth against sys.getrecursionlimit(). */
extern _Thread_local int cp_conversion_depth;

static inline int cp_enter_conversion(const char *where) {
    if (cp_conversion_depth >= Py_GetRecursionLimit()) {
        PyErr_Format(PyExc_RecursionError, "maximum recursion depth exceeded%s", where);
        return -1;
    }
    if (Py_EnterRecursiveCall(where)) return -1;
    cp_conversion_depth++;
    return 0;
}

static inline void cp_leave_conversion(void) {
    cp_conversion_depth--;
    Py_LeaveRecursiveCall();
}

/* ---- the current exception as one object ---- */

/* Returns a new reference: the raised exception (normalized, with its
 * traceback), or NULL when none is set; clears it. GIL held. */
static inline PyObject *cp_err_take(void) {
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* Raises exc again (NULL: clears). Steals the reference. GIL held. */
static inline void cp_err_restore(PyObject *exc) {
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    if (!exc) {
        PyErr_Clear();
        return;
    }
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
#endif
}

/* ---- unraisable exceptions ---- */

/* Reports the current exception to sys.unraisablehook with the message
 * "Exception ignored <where>", and clears it. GIL held. */
void cp_write_unraisable(const char *where);
/* The same, with `obj` (borrowed, may be NULL) as the report's object: the
 * default hook prints its repr after the message. */
void cp_write_unraisable_for(const char *where, PyObject *obj);

/* ---- integers as little-endian magnitudes ---- */

/* The number of bytes of |v|'s magnitude, and its sign (1 when negative).
 * Returns 0 or -1 with an exception set. GIL held. */
int cp_long_magnitude_size(PyObject *v, size_t *nbytes, int *negative);

/* Writes |v| into buf (nbytes long, little-endian). Returns 0 or -1. GIL held. */
int cp_long_magnitude_bytes(PyObject *v, unsigned char *buf, size_t nbytes);

/* Returns a new reference: the int whose magnitude is buf (little-endian),
 * negated when `negative`. GIL held. */
PyObject *cp_long_from_magnitude(const unsigned char *buf, size_t nbytes, int negative);

#endif
