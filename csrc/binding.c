/* binding.c - the linked binding `pymport_py` (bd_): what js/bootstrap.js
 * and pymport's JS module get from C.
 *
 * process._linkedBinding('pymport_py') runs bd_register once per environment:
 * ours during their bootstrap on the loop thread, a Node worker_thread's on
 * that thread (foreign.c). The functions here are JS-facing callbacks: they
 * run on the thread that runs the environment's JS, with its Node lock held,
 * and take the GIL themselves. The binding also carries pyproxy.c's,
 * pyapi.c's, share.c's and live.c's functions. Console output (write,
 * isatty, terminal) goes to Python's sys.stdout/sys.stderr as they are at each
 * call. */
#include "binding.h"

#include "convert.h"
#include "errors.h"
#include "foreign.h"
#include "live.h"
#include "pyapi.h"
#include "pyproxy.h"
#include "share.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The bootstrap: the embedder main script loads js/bootstrap.js as a normal
 * CommonJS module (so `require` and `import()` behave as in user code). */
static const char bd_main_script[] =
    "const binding = process._linkedBinding('pymport_py');\n"
    "const file = binding.bootstrapPath();\n"
    "return require('module').createRequire(file)(file)(binding);\n";

/* The environment whose bootstrap runs on this thread (read by bd_register).
 * Loop thread only. */
static _Thread_local rt_env *bd_loading;

int bd_load(rt_env *env, char *error, size_t size) {
    bd_loading = env;
    int rc = em_setup_load(env->setup, bd_main_script, error, size);
    bd_loading = NULL;
    if (rc == 0 && (!env->napi || !env->helpers[RT_H_COUNT - 1])) {
        snprintf(error, size, "the Node bootstrap did not initialise pymport_py");
        rc = -1;
    }
    return rc;
}

rt_env *bd_env_of(napi_env napi) {
    void *data = NULL;
    /* Unchecked: it fails only for a NULL env or out pointer; the data was set
     * before any function that asks for it was defined. */
    napi_get_instance_data(napi, &data);
    return data;
}

/* binding.bootstrapPath() */
static napi_value bd_js_bootstrap_path(napi_env napi, napi_callback_info info) {
    (void)info;
    napi_value out;
    JS_TRY(napi, napi_create_string_utf8(napi, bd_env_of(napi)->bootstrap_path, NAPI_AUTO_LENGTH,
                                         &out));
    return out;
js_error:
    return NULL;
}

/* binding.getcwd(): the real working directory (Node caches process.cwd()). */
static napi_value bd_js_getcwd(napi_env napi, napi_callback_info info) {
    (void)info;
    rt_env *env = bd_env_of(napi);
    napi_value out;
    char buf[4096];
    const char *dir = env->base_dir;
    if (!dir && !(dir = getcwd(buf, sizeof buf))) {
        napi_throw_error(napi, NULL, "cannot read the working directory");
        return NULL;
    }
    JS_TRY(napi, napi_create_string_utf8(napi, dir, NAPI_AUTO_LENGTH, &out));
    return out;
js_error:
    return NULL;
}

/* binding.init(helpers): keeps the bootstrap's helper functions. */
static napi_value bd_js_init(napi_env napi, napi_callback_info info) {
    static const char *const names[RT_H_COUNT] = {
        "require", "importModule", "evalScript", "inspect", "keys", "iter", "next",
        "settle", "describeError", "pyError", "entries", "Set", "Map", "PyObject",
        "done", "length", "markHandled", "str", "drain", "call", "construct", "dropped",
        "live",
        "Promise",
    };
    rt_env *env = bd_env_of(napi);
    size_t argc = 1;
    napi_value helpers, resource_name;
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, &helpers, NULL, NULL));
    if (argc < 1) return NULL; /* the bootstrap then fails its check (bd_load) */
    for (int h = 0; h < RT_H_COUNT; h++) {
        napi_value v;
        JS_TRY(napi, napi_get_named_property(napi, helpers, names[h], &v));
        JS_TRY(napi, napi_create_reference(napi, v, 1, &env->helpers[h]));
    }
    JS_TRY(napi, napi_create_string_utf8(napi, "pymport_py", NAPI_AUTO_LENGTH, &resource_name));
    JS_TRY(napi, napi_async_init(napi, NULL, resource_name, &env->async_ctx));
js_error:
    return NULL;
}

/* 1 when Python's sys.stdout (fd 1) or sys.stderr (fd 2) is a terminal now.
 * GIL held; leaves no exception. */
static int bd_stream_isatty(int32_t fd) {
    PyObject *stream = PySys_GetObject(fd == 2 ? "stderr" : "stdout"); /* borrowed */
    PyObject *tty = stream && stream != Py_None ? PyObject_CallMethod(stream, "isatty", NULL) : NULL;
    int is = tty == Py_True;
    Py_XDECREF(tty);
    PyErr_Clear();
    return is;
}

/* The fd a console function was called for: 2 for stderr, else 1. An fd
 * that is missing or not a number means stdout, so napi_get_value_int32's
 * failure (napi_number_expected) is left unchecked: fd keeps its 1. */
static int32_t bd_fd(napi_env napi, size_t argc, napi_value arg) {
    int32_t fd = 1;
    if (argc >= 1) napi_get_value_int32(napi, arg, &fd);
    return fd == 2 ? 2 : 1;
}

/* binding.isatty(fd): whether Python's stream is a terminal (console.log asks
 * at every call, so this stays cheap). */
static napi_value bd_js_isatty(napi_env napi, napi_callback_info info) {
    size_t argc = 1;
    napi_value arg, out;
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, &arg, NULL, NULL));
    int32_t fd = bd_fd(napi, argc, arg);
    PyGILState_STATE gil = PyGILState_Ensure();
    int is = bd_stream_isatty(fd);
    PyGILState_Release(gil);
    JS_TRY(napi, napi_get_boolean(napi, is, &out));
    return out;
js_error:
    return NULL;
}

/* binding.terminal(fd): [columns, rows] when Python's stream is a terminal
 * now, else undefined. */
static napi_value bd_js_terminal(napi_env napi, napi_callback_info info) {
    size_t argc = 1;
    napi_value arg, out, columns, rows;
    long size[2] = {0, 0};
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, &arg, NULL, NULL));
    int32_t fd = bd_fd(napi, argc, arg);
    PyGILState_STATE gil = PyGILState_Ensure();
    if (bd_stream_isatty(fd)) {
        PyObject *shutil = PyImport_ImportModule("shutil");
        PyObject *ts = shutil ? PyObject_CallMethod(shutil, "get_terminal_size", NULL) : NULL;
        if (ts && PyTuple_Check(ts) && PyTuple_GET_SIZE(ts) >= 2) {
            size[0] = PyLong_AsLong(PyTuple_GET_ITEM(ts, 0));
            size[1] = PyLong_AsLong(PyTuple_GET_ITEM(ts, 1));
        }
        Py_XDECREF(ts);
        Py_XDECREF(shutil);
        PyErr_Clear();
    }
    PyGILState_Release(gil);
    if (size[0] <= 0 || size[1] <= 0) {
        JS_TRY(napi, napi_get_undefined(napi, &out));
        return out;
    }
    JS_TRY(napi, napi_create_array_with_length(napi, 2, &out));
    JS_TRY(napi, napi_create_int64(napi, size[0], &columns));
    JS_TRY(napi, napi_create_int64(napi, size[1], &rows));
    JS_TRY(napi, napi_set_element(napi, out, 0, columns));
    JS_TRY(napi, napi_set_element(napi, out, 1, rows));
    return out;
js_error:
    return NULL;
}

/* Writes a JS string to fd 1 or 2 as UTF-8, without Python. Returns NULL. */
static napi_value bd_write_raw(napi_env napi, int32_t fd, napi_value text) {
    size_t n = 0;
    char *buf = NULL;
    JS_TRY(napi, napi_get_value_string_utf8(napi, text, NULL, 0, &n));
    if (!(buf = malloc(n + 1))) goto js_error; /* the text is lost, as a failed write loses it */
    JS_TRY(napi, napi_get_value_string_utf8(napi, text, buf, n + 1, &n));
    if (write(fd, buf, n) < 0) {} /* nowhere left to report it */
js_error:
    free(buf);
    return NULL;
}

/* binding.write(fd, text): console output into Python's sys.stdout/stderr,
 * flushed, since node writes its stdio to files and pipes synchronously: a
 * console.log is out before the next statement runs. */
static napi_value bd_js_write(napi_env napi, napi_callback_info info) {
    rt_env *env = bd_env_of(napi);
    size_t argc = 2;
    napi_value argv[2];
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, argv, NULL, NULL));
    if (argc < 2) return NULL; /* nothing to write */
    int32_t fd = bd_fd(napi, argc, argv[0]);
    PyGILState_STATE gil;
    if (!cp_gil_ensure(&gil)) return bd_write_raw(napi, fd, argv[1]);
    PyObject *text = cv_string_to_py(env, argv[1]);
    PyObject *stream = PySys_GetObject(fd == 2 ? "stderr" : "stdout"); /* borrowed */
    PyObject *res = NULL;
    if (text && stream && stream != Py_None) res = PyObject_CallMethod(stream, "write", "O", text);
    if (res) {
        /* Written: a stream that cannot flush (no flush method, a closed
         * pipe) keeps what it has rather than getting the text twice. */
        Py_DECREF(res);
        res = PyObject_CallMethod(stream, "flush", NULL);
        if (!res) {
            PyErr_Clear();
            res = Py_NewRef(Py_None);
        }
    }
    if (!res) {
        /* No usable Python stream: write the bytes to the fd itself. */
        PyErr_Clear();
        if (text) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(text, &n);
            if (s && write(fd, s, (size_t)n) < 0) {}
            PyErr_Clear();
        }
    }
    Py_XDECREF(res);
    Py_XDECREF(text);
    PyGILState_Release(gil);
js_error:
    return NULL;
}

/* binding.unraisable(err, what): an error no Python caller waits for. */
static napi_value bd_js_unraisable(napi_env napi, napi_callback_info info) {
    rt_env *env = bd_env_of(napi);
    size_t argc = 2;
    napi_value argv[2];
    char what[128] = "uncaught JavaScript exception";
    JS_TRY(napi, napi_get_cb_info(napi, info, &argc, argv, NULL, NULL));
    if (argc < 1) return NULL; /* nothing to report */
    /* Unchecked: a `what` that is not a string keeps the default text. */
    if (argc >= 2) napi_get_value_string_utf8(napi, argv[1], what, sizeof what, NULL);
    er_unraisable(env, argv[0], what);
js_error:
    return NULL;
}

/* binding.ready(): the bootstrap ran in this environment. */
static napi_value bd_js_ready(napi_env napi, napi_callback_info info) {
    (void)info;
    napi_value out;
    JS_TRY(napi, napi_get_boolean(napi, bd_env_of(napi)->helpers[RT_H_COUNT - 1] != NULL, &out));
    return out;
js_error:
    return NULL;
}

napi_value bd_register(napi_env napi, napi_value exports) {
    rt_env *env = bd_loading;
    if (env) {
        env->napi = napi;
        JS_TRY(napi, napi_set_instance_data(napi, env, NULL, NULL));
    } else if (!(env = fe_register_worker(napi))) {
        napi_throw_error(napi, NULL, "pymport_py is not available in this environment");
        return NULL;
    }
    napi_property_descriptor props[] = {
        {"bootstrapPath", NULL, bd_js_bootstrap_path, NULL, NULL, NULL, napi_default, NULL},
        {"getcwd", NULL, bd_js_getcwd, NULL, NULL, NULL, napi_default, NULL},
        {"init", NULL, bd_js_init, NULL, NULL, NULL, napi_default, NULL},
        {"ready", NULL, bd_js_ready, NULL, NULL, NULL, napi_default, NULL},
        {"write", NULL, bd_js_write, NULL, NULL, NULL, napi_default, NULL},
        {"terminal", NULL, bd_js_terminal, NULL, NULL, NULL, napi_default, NULL},
        {"isatty", NULL, bd_js_isatty, NULL, NULL, NULL, napi_default, NULL},
        {"unraisable", NULL, bd_js_unraisable, NULL, NULL, NULL, napi_default, NULL},
    };
    JS_TRY(napi, napi_define_properties(napi, exports, sizeof props / sizeof props[0], props));
    JS_TRY(napi, pyp_define_binding(napi, exports));
    JS_TRY(napi, pa_define_binding(napi, exports));
    JS_TRY(napi, sh_define_binding(napi, exports));
    JS_TRY(napi, lv_define_binding(napi, exports));
    return exports;
js_error:
    return NULL;
}
