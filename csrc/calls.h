/* calls.h - calls into JS from C (cl_), and the exception a failed call
 * leaves behind. */
#ifndef PYMPORT_CALLS_H
#define PYMPORT_CALLS_H

#include "runtime.h"

/* Calls fn with this `recv` inside a callback scope, so microtasks and
 * nextTicks run afterwards at the outermost level; fn's caller frame is the
 * bootstrap's `[python]` trampoline. Node lock and GIL held; the
 * GIL is released while JS runs. Returns the napi status; on failure the JS
 * exception is kept for er_from_status (cl_take_exception). */
napi_status cl_call(rt_env *env, napi_value recv, napi_value fn, size_t argc,
                    const napi_value *argv, napi_value *result);
/* `new ctor(...argv)`, with the same rules as cl_call. */
napi_status cl_construct(rt_env *env, napi_value ctor, size_t argc, const napi_value *argv,
                         napi_value *result);
/* Calls helper h with `undefined` as this. Same rules as cl_call. */
napi_status cl_call_helper(rt_env *env, rt_helper h, size_t argc, const napi_value *argv,
                           napi_value *result);
/* Gets helper h, or NULL. Node lock held. */
napi_value cl_helper_value(rt_env *env, rt_helper h);

/* Runs the nextTicks and microtasks that calls from Python threads left
 * (they wait for the end of the thread's turn), as the close of an outermost
 * callback scope does. Node lock held with no JS on the stack: by the loop
 * thread at the start of its turn (GIL not held, with_gil 0), or by a Python
 * thread that is about to wait for a result (GIL held, with_gil 1: released
 * while they run). */
void cl_run_deferred(rt_env *env, int with_gil);

/* The exception of this thread's last failed cl_call or cl_construct (kept
 * aside while microtasks ran): returns 1 with *out set (and forgets it), or 0.
 * Node lock and GIL held. */
int cl_take_exception(rt_env *env, napi_value *out);
/* Forgets this thread's kept exception if it is env's (its call is over, or
 * its environment ends). GIL held. */
void cl_drop_kept_of(rt_env *env);
/* The calling thread ends: forgets what it kept, taking the GIL unless Python
 * is finalizing. GIL not held. */
void cl_thread_ends(void);

#endif
