/* environment.c - the Python type Environment: one Node environment with its
 * loop thread. pymport_py's module functions use the main one; each Worker
 * has another. All methods may be called from any Python thread. */
#include "environment.h"

#include "async.h"
#include "calls.h"
#include "convert.h"
#include "errors.h"
#include "jsproxy.h"
#include "nodelock.h"
#include "queue.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    rt_env *env; /* strong; set once */
    PyObject *weakreflist;
} env_object;

static rt_env *env_of(PyObject *self) { return ((env_object *)self)->env; }

static PyObject *env_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"bootstrap", "argv", "exec_argv", "base", "program", NULL};
    const char *bootstrap;
    const char *program = "pymport_py";
    PyObject *argv = NULL, *exec_argv = NULL, *base = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|OOO$s:Environment", kwlist, &bootstrap,
                                     &argv, &exec_argv, &base, &program))
        return NULL;
    if (base != Py_None && !PyUnicode_Check(base)) {
        PyErr_SetString(PyExc_TypeError, "base must be a str or None");
        return NULL;
    }
    PyObject *empty = PyTuple_New(0);
    if (!empty) return NULL;
    PyObject *module = PyType_GetModuleByDef(type, &mod_def);
    rt_env *env = module ? rt_env_new(module, bootstrap, program, argv ? argv : empty,
                                      exec_argv ? exec_argv : empty, base)
                         : NULL;
    Py_DECREF(empty);
    if (!env) return NULL;
    env_object *self = (env_object *)type->tp_alloc(type, 0);
    if (!self) {
        rt_env_decref(env);
        return NULL;
    }
    self->env = env;
    if (rt_env_start(env) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void env_dealloc(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    env_object *e = (env_object *)self;
    PyObject_GC_UnTrack(self);
    if (e->weakreflist) PyObject_ClearWeakRefs(self);
    if (e->env && cp_is_finalizing()) {
        /* Too late: the loop thread could no longer take the GIL for the
         * teardown. pymport_py stops its environments at exit (atexit);
         * this one is left to the process's end. */
    } else if (e->env) {
        rt_env_close(e->env);
    }
    type->tp_free(self);
    Py_DECREF(type);
}

static int env_traverse(PyObject *self, visitproc visit, void *arg) {
    (void)self;
    Py_VISIT(Py_TYPE(self));
    return 0;
}

/* Calls helper h with (str arg, base) and converts the result. With
 * `await_it`, h also takes the two settle functions of a waiter (so the
 * promise is handled before microtasks run) and the settled value is returned. */
static PyObject *env_helper_call(PyObject *self, rt_helper h, PyObject *arg, PyObject *base,
                                 int await_it) {
    rt_env *env = env_of(self);
    nl_frame frame;
    as_pending *pending = NULL;
    PyObject *res = NULL, *future = NULL;
    napi_value argv[4], out;
    if (await_it && mod_load_futures(rt_state_of(env)) < 0) return NULL;
    if (nl_enter_with_gil(env, &frame) < 0) return NULL;
    if (cv_to_js(env, arg, CV_ARG, &argv[0]) < 0) goto error;
    if (cv_to_js(env, base, CV_ARG, &argv[1]) < 0) goto error;
    if (await_it) {
        if (!(future = PyObject_CallNoArgs(rt_state_of(env)->JSFuture))) goto error;
        if (!(pending = as_settle_functions(env, future, &argv[2]))) goto error;
    }
    napi_status status = cl_call_helper(env, h, await_it ? 4 : 2, argv, &out);
    if (status != napi_ok) {
        er_from_status(env, status);
        if (pending) as_pending_drop(pending);
        goto error;
    }
    if (!await_it) res = cv_to_py(env, out);
error:
    nl_leave_with_gil(env, &frame);
    if (future && !PyErr_Occurred()) res = as_wait(rt_state_of(env), env, future, -1);
    Py_XDECREF(future);
    return res;
}

static PyObject *env_require(PyObject *self, PyObject *args) {
    PyObject *id, *base = Py_None;
    if (!PyArg_ParseTuple(args, "U|O:require", &id, &base)) return NULL;
    return env_helper_call(self, RT_H_REQUIRE, id, base, 0);
}

static PyObject *env_import_module(PyObject *self, PyObject *args) {
    PyObject *spec, *base = Py_None;
    if (!PyArg_ParseTuple(args, "U|O:import_module", &spec, &base)) return NULL;
    return env_helper_call(self, RT_H_IMPORT, spec, base, 1);
}

static PyObject *env_eval(PyObject *self, PyObject *args) {
    PyObject *source, *base = Py_None;
    if (!PyArg_ParseTuple(args, "U|O:eval", &source, &base)) return NULL;
    return env_helper_call(self, RT_H_EVAL, source, base, 0);
}

static PyObject *env_to_js(PyObject *self, PyObject *value) {
    rt_env *env = env_of(self);
    nl_frame frame;
    PyObject *res = NULL;
    napi_value v;
    if (nl_enter_with_gil(env, &frame) < 0) return NULL;
    if (cv_to_js(env, value, CV_ARG, &v) < 0) goto error;
    res = cv_to_py(env, v);
error:
    nl_leave_with_gil(env, &frame);
    return res;
}

/* Calls fn_name of js/adopt.js (next to env's bootstrap) in env with one
 * argument. Node lock and GIL held. Returns 0 with *out set, or -1. */
static int env_adopt_call(rt_env *env, const char *fn_name, napi_value arg, napi_value *out) {
    const char *bootstrap = env->bootstrap_path, *slash = strrchr(bootstrap, '/');
    int dir_len = slash ? (int)(slash - bootstrap + 1) : 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%.*sadopt.js", dir_len, bootstrap) >= (int)sizeof path) {
        PyErr_SetString(PyExc_RuntimeError, "pymport_py's installation path is too long");
        return -1;
    }
    napi_value argv[2], module, fn, undefined;
    NAPI_OK(env, napi_create_string_utf8(env->napi, path, NAPI_AUTO_LENGTH, &argv[0]));
    NAPI_OK(env, napi_get_undefined(env->napi, &undefined));
    argv[1] = undefined;
    napi_status status = cl_call_helper(env, RT_H_REQUIRE, 2, argv, &module);
    if (status == napi_ok) status = napi_get_named_property(env->napi, module, fn_name, &fn);
    if (status == napi_ok) status = cl_call(env, undefined, fn, 1, &arg, out);
    if (status != napi_ok) return er_from_status(env, status);
    return 0;
error:
    return -1;
}

/* Returns a new reference: the bytes of value (a JSObject of env) as
 * adopt.js serializes them, in env. GIL held; takes env's Node lock. */
static PyObject *env_serialize(rt_env *env, PyObject *value) {
    nl_frame frame;
    PyObject *bytes = NULL;
    napi_value v, out;
    void *data;
    size_t len;
    if (nl_enter_with_gil(env, &frame) < 0) return NULL;
    if (jsp_value(env, value, &v) < 0 || env_adopt_call(env, "serialize", v, &out) < 0) goto error;
    NAPI_OK(env, napi_get_buffer_info(env->napi, out, &data, &len));
    bytes = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
error:
    nl_leave_with_gil(env, &frame);
    return bytes;
}

/* Returns a new reference: the value that adopt.js deserializes from bytes,
 * in env. GIL held; takes env's Node lock. */
static PyObject *env_deserialize(rt_env *env, PyObject *bytes) {
    nl_frame frame;
    PyObject *res = NULL;
    napi_value buffer, out;
    if (nl_enter_with_gil(env, &frame) < 0) return NULL;
    NAPI_OK(env, napi_create_buffer_copy(env->napi, (size_t)PyBytes_GET_SIZE(bytes),
                                         PyBytes_AS_STRING(bytes), NULL, &buffer));
    if (env_adopt_call(env, "deserialize", buffer, &out) == 0) res = cv_to_py(env, out);
error:
    nl_leave_with_gil(env, &frame);
    return res;
}

/* adopt(value): a structured-clone copy, in this environment, of a JSObject
 * of any environment. The value's environment serializes it, the bytes cross
 * as a Python bytes object, and this one deserializes them: one Node lock at
 * a time, the value's, then this one's. */
static PyObject *env_adopt(PyObject *self, PyObject *value) {
    rt_env *env = env_of(self);
    if (!jsp_check(rt_state_of(env), value)) {
        PyErr_Format(PyExc_TypeError,
                     "adopt() takes a JSObject (a JavaScript object of any environment), not %.100s",
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
    PyObject *bytes = env_serialize(((jsp_object *)value)->env, value);
    if (!bytes) return NULL;
    PyObject *res = env_deserialize(env, bytes);
    Py_DECREF(bytes);
    return res;
}

static PyObject *env_global(PyObject *self, void *closure) {
    (void)closure;
    rt_env *env = env_of(self);
    nl_frame frame;
    PyObject *res = NULL;
    napi_value global;
    if (nl_enter_with_gil(env, &frame) < 0) return NULL;
    NAPI_OK(env, napi_get_global(env->napi, &global));
    res = cv_to_py(env, global);
error:
    nl_leave_with_gil(env, &frame);
    return res;
}

static PyObject *env_running(PyObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(atomic_load(&env_of(self)->state) == RT_RUNNING);
}

static PyObject *env_exit_code(PyObject *self, void *closure) {
    (void)closure;
    rt_env *env = env_of(self);
    if (!atomic_load(&env->exit_requested)) Py_RETURN_NONE;
    return PyLong_FromLong(atomic_load(&env->exit_code));
}

static PyObject *env_shutdown(PyObject *self, PyObject *unused) {
    (void)unused;
    if (rt_env_shutdown(env_of(self)) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *env_heap_used(PyObject *self, PyObject *unused) {
    (void)unused;
    rt_env *env = env_of(self);
    nl_frame frame;
    if (nl_enter_with_gil(env, &frame) < 0) return NULL;
    size_t used = em_heap_used(env->setup);
    nl_leave_with_gil(env, &frame);
    return PyLong_FromSize_t(used);
}

static PyObject *env_busy(PyObject *self, PyObject *unused) {
    (void)unused;
    rt_env *env = env_of(self);
    nl_frame frame;
    if (nl_enter_with_gil(env, &frame) < 0) return NULL;
    int busy = tq_loop_busy(env);
    nl_leave_with_gil(env, &frame);
    return PyBool_FromLong(busy);
}

static PyObject *env_hold_turn(PyObject *self, PyObject *unused) {
    (void)unused;
    if (nl_hold_turn_with_gil(env_of(self)) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *env_release_turn(PyObject *self, PyObject *unused) {
    (void)unused;
    if (nl_release_turn_with_gil(env_of(self)) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *env_parked_locks(PyObject *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromLong(nl_count_parks(env_of(self)));
}

static PyMethodDef env_methods[] = {
    {"require", env_require, METH_VARARGS, "require(id, base=None): CommonJS require as from directory base (default: the "
     "working directory); a list base searches those directories (require.resolve's paths)."},
    {"import_module", env_import_module, METH_VARARGS,
     "import_module(specifier, base=None): ESM import; returns the module namespace."},
    {"eval", env_eval, METH_VARARGS, "eval(source, base=None): run a script in the global scope."},
    {"to_js", env_to_js, METH_O, "to_js(value): convert deeply to a JS value."},
    {"adopt", env_adopt, METH_O,
     "adopt(value): a structured-clone copy of value (a JSObject of any environment) in this "
     "environment."},
    {"shutdown", env_shutdown, METH_NOARGS, "Stop the environment and join its loop thread."},
    {"heap_used", env_heap_used, METH_NOARGS, "V8 heap bytes in use."},
    {"busy", env_busy, METH_NOARGS,
     "True while something would keep `node` running: a referenced handle or request (a "
     "timer, a server, a pending fs call) or a pending Promise of a Python awaitable."},
    {"hold_turn", env_hold_turn, METH_NOARGS,
     "Until release_turn(), the loop thread runs no JavaScript (timers, I/O callbacks, "
     "call_async): this thread's statements are one turn. Nests."},
    {"release_turn", env_release_turn, METH_NOARGS, "Ends the innermost hold_turn() of this thread."},
    {"_parked_locks", env_parked_locks, METH_NOARGS,
     "How many threads keep a V8 lock of this environment parked (tests)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef env_getset[] = {
    {"globalThis", env_global, NULL, "The global object.", NULL},
    {"running", env_running, NULL, "True while the environment can run JavaScript.", NULL},
    {"exit_code", env_exit_code, NULL,
     "The code given to process.exit() (or by Node for an uncaught error) once JavaScript "
     "stopped the environment with it, else None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef env_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(env_object, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot env_slots[] = {
    {Py_tp_doc, "A Node environment (isolate, context, libuv loop) with its own loop thread."},
    {Py_tp_new, env_tp_new},
    {Py_tp_dealloc, env_dealloc},
    {Py_tp_traverse, env_traverse},
    {Py_tp_methods, env_methods},
    {Py_tp_getset, env_getset},
    {Py_tp_members, env_members},
    {0, NULL},
};

static PyType_Spec env_spec = {
    .name = "pymport_py._pymport.Environment",
    .basicsize = sizeof(env_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_BASETYPE,
    .slots = env_slots,
};

int env_setup_types(PyObject *module) {
    mod_state *st = mod_get_state(module);
    st->EnvironmentType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &env_spec, NULL);
    if (!st->EnvironmentType) return -1;
    return PyModule_AddType(module, st->EnvironmentType);
}
