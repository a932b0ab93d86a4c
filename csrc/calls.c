/* calls.c - calls into JS from C (cl_): functions, constructors and the
 * bootstrap's helpers, and the exception a failed call leaves.
 *
 * Every call runs inside a callback scope, so that nextTicks and microtasks
 * run when the outermost one closes, and with the GIL released (callbacks into
 * Python take it themselves). Callers hold the Node lock and the GIL. The
 * exception of a failed call is kept aside, per thread, while the scope's
 * close runs microtasks; er_from_status takes it (cl_take_exception). */
#include "calls.h"

#include "errors.h"
#include "interrupts.h"
#include "nodelock.h"
#include "queue.h"

#include <string.h>

/* The exception of this thread's last failed cl_call, kept aside (a strong
 * reference, boxed: references hold objects only), with a reference on its
 * environment. Own thread, GIL held. */
static _Thread_local napi_ref cl_kept;
static _Thread_local rt_env *cl_kept_env;

static void cl_drop_kept(void) {
    if (!cl_kept_env) return;
    if (cl_kept) tq_release_ref(cl_kept_env, cl_kept);
    rt_env_decref(cl_kept_env);
    cl_kept = NULL;
    cl_kept_env = NULL;
}

void cl_drop_kept_of(rt_env *env) {
    if (cl_kept_env == env) cl_drop_kept();
}

static void cl_keep_exception(rt_env *env, napi_value thrown) {
    napi_value box;
    cl_drop_kept();
    if (napi_create_array_with_length(env->napi, 1, &box) != napi_ok ||
        napi_set_element(env->napi, box, 0, thrown) != napi_ok ||
        napi_create_reference(env->napi, box, 1, &cl_kept) != napi_ok) {
        cl_kept = NULL;
        return;
    }
    cl_kept_env = env;
    rt_env_incref(env);
}

void cl_thread_ends(void) {
    if (!cl_kept_env) return;
    PyGILState_STATE gil;
    if (cp_gil_ensure(&gil)) {
        cl_drop_kept();
        PyGILState_Release(gil);
    }
}

int cl_take_exception(rt_env *env, napi_value *out) {
    if (!cl_kept || cl_kept_env != env) return 0;
    napi_value box;
    int ok = napi_get_reference_value(env->napi, cl_kept, &box) == napi_ok &&
             napi_get_element(env->napi, box, 0, out) == napi_ok;
    cl_drop_kept();
    return ok;
}

napi_value cl_helper_value(rt_env *env, rt_helper h) {
    napi_value v = NULL;
    if (napi_get_reference_value(env->napi, env->helpers[h], &v) != napi_ok) return NULL;
    return v;
}

void cl_run_deferred(rt_env *env, int with_gil) {
    if (!env->drain_pending) return;
    env->drain_pending = 0;
    napi_handle_scope hscope;
    if (napi_open_handle_scope(env->napi, &hscope) != napi_ok) return;
    napi_value resource;
    napi_callback_scope cscope;
    PyThreadState *ts = with_gil ? PyEval_SaveThread() : NULL;
    if (napi_get_global(env->napi, &resource) == napi_ok &&
        napi_open_callback_scope(env->napi, resource, env->async_ctx, &cscope) == napi_ok)
        napi_close_callback_scope(env->napi, cscope);
    if (ts) PyEval_RestoreThread(ts);
    napi_close_handle_scope(env->napi, hscope);
}

/* Calls fn with `this` undefined. On the environment's own thread (a task, a
 * callback of its event loop) it runs inside a callback scope, so that
 * nextTicks and microtasks run when the outermost scope closes, as after any
 * macrotask. From a Python thread they wait for the end of that thread's
 * turn: the loop thread runs them at its next turn (cl_run_deferred), so
 * that a listener attached in the next statement still sees what a nextTick
 * emits (docs/threading.md#turns). */
static napi_status cl_invoke(rt_env *env, napi_value fn, size_t argc, const napi_value *argv,
                             napi_value *result) {
    napi_value resource, recv;
    napi_callback_scope cscope = NULL;
    napi_status status = napi_get_undefined(env->napi, &recv);
    if (status != napi_ok) return status;
    if (rt_is_loop_thread(env) || env->foreign) {
        status = napi_get_global(env->napi, &resource);
        if (status != napi_ok) return status;
        status = napi_open_callback_scope(env->napi, resource, env->async_ctx, &cscope);
        if (status != napi_ok) return status;
    } else {
        env->drain_pending = 1;
    }
    /* The outermost call of a thread is what Ctrl-C and deadlines stop. */
    ir_call call;
    if (ir_call_begin(env, &call) < 0) {
        if (cscope) napi_close_callback_scope(env->napi, cscope);
        return napi_generic_failure;
    }
    /* JS runs without the GIL; callbacks into Python take it themselves.
     * The call's exception must not be pending while the scope's close runs
     * microtasks (their Node-API callbacks would see it as theirs): em_call
     * hands it over, and it is kept aside for cl_take_exception. */
    PyThreadState *ts = PyEval_SaveThread();
    napi_value thrown = NULL;
    status = em_call(recv, fn, argc, argv, result, &thrown) == 0 ? napi_ok : napi_pending_exception;
    bool is_promise = false;
    if (status == napi_ok && napi_is_promise(env->napi, *result, &is_promise) == napi_ok && is_promise) {
        /* A promise handed to Python is Python's to settle (result(), await):
         * mark it handled before the scope closes, or Node would report its
         * rejection as unhandled before Python had a chance. */
        napi_value mark = cl_helper_value(env, RT_H_HANDLED), ignored;
        if (mark) napi_call_function(env->napi, *result, mark, 0, NULL, &ignored);
    }
    /* A termination aimed at this call ends before the scope closes (no JS of
     * this thread is on the stack now), so the close runs ticks and microtasks
     * as usual and Node's async context stack stays balanced. */
    int reason = call.outer ? ir_end_termination(env) : IR_STOP_NONE;
    if (cscope) napi_close_callback_scope(env->napi, cscope);
    PyEval_RestoreThread(ts);
    if (thrown) cl_keep_exception(env, thrown);
    ir_call_end(env, &call);
    /* A stop (shutdown, process.exit) may have terminated the JS while it ran,
     * and a terminated call can come back looking like it returned undefined:
     * report the stop rather than a value that may not be the call's. */
    if (status == napi_ok && atomic_load(&env->state) != RT_RUNNING) status = napi_pending_exception;
    if (reason) {
        /* Report it (ir_raise_interrupt), even if the call got to finish. */
        ir_report(env, reason);
        if (status == napi_ok) status = napi_generic_failure;
    }
    return status;
}

/* Calls and constructions from Python enter JS through the bootstrap's
 * trampolines (RT_H_CALL, RT_H_CONSTRUCT), so that the function has a JS
 * caller frame, `[python]`, as every call has under node: code that inspects
 * its caller's call site (Error.captureStackTrace and the call sites of
 * Error.prepareStackTrace, as puppeteer's evaluate does) finds one. `lead`
 * (fn, and `this` for a call) goes before the arguments. */
static napi_status cl_enter(rt_env *env, rt_helper h, size_t nlead, const napi_value *lead,
                            size_t argc, const napi_value *argv, napi_value *result) {
    napi_value small[12], *all = small;
    napi_value trampoline = cl_helper_value(env, h);
    if (!trampoline) return napi_generic_failure;
    size_t n = nlead + argc;
    if (n > sizeof small / sizeof *small && !(all = PyMem_Malloc(n * sizeof *all))) {
        /* A pending JS exception is what the callers report (er_from_status). */
        napi_throw_range_error(env->napi, NULL, "out of memory for the call's arguments");
        return napi_pending_exception;
    }
    memcpy(all, lead, nlead * sizeof *all);
    if (argc) memcpy(all + nlead, argv, argc * sizeof *all);
    napi_status status = cl_invoke(env, trampoline, n, all, result);
    if (all != small) PyMem_Free(all);
    return status;
}

napi_status cl_call(rt_env *env, napi_value recv, napi_value fn, size_t argc,
                    const napi_value *argv, napi_value *result) {
    napi_value lead[2] = {fn, recv};
    return cl_enter(env, RT_H_CALL, 2, lead, argc, argv, result);
}

napi_status cl_construct(rt_env *env, napi_value ctor, size_t argc, const napi_value *argv,
                         napi_value *result) {
    return cl_enter(env, RT_H_CONSTRUCT, 1, &ctor, argc, argv, result);
}

napi_status cl_call_helper(rt_env *env, rt_helper h, size_t argc, const napi_value *argv,
                           napi_value *result) {
    napi_value fn = cl_helper_value(env, h);
    if (!fn) return napi_generic_failure;
    return cl_invoke(env, fn, argc, argv, result);
}
