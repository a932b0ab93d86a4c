/* nodelock.h - the Node lock (nl_): JavaScript's GIL, one per environment.
 *
 * Re-entrant per thread: env->mutex plus the V8 Locker and scopes. Lock order
 * is always Node lock, then GIL: a thread never blocks on a Node lock while it
 * holds the GIL. Every function's name says what it does with the GIL: held
 * (`_with_gil`), released while it blocks (`_releasing_gil`), or not involved
 * (`_without_gil`, and the bookkeeping that takes no lock at all). */
#ifndef PYMPORT_NODELOCK_H
#define PYMPORT_NODELOCK_H

#include "runtime.h"

/* What a thread holds and waits for, for deadlock detection across
 * environments. Allocated once per thread that uses Node and never freed, so
 * another thread may read it at any time. Written by its own thread only,
 * except `v8_reset` (nodelock.c, parked locks). */
typedef struct {
    _Atomic(rt_env *) waiting_for; /* set under nl_waits; read by any thread's cycle walk */
    atomic_int held;               /* atomic, read by any thread: how many Node locks it holds */
    atomic_int in_python;          /* atomic, read by any thread: nesting of calls from JS into Python */
    int node_worker;               /* own thread: a Node worker_thread (fe_register_worker) */
    int64_t deadline_ns;           /* own thread: pymport_py.deadline(), 0: none (interrupts.c) */
    int report;                    /* own thread: ir_stop_reason to raise next (interrupts.c) */
    PyObject *report_exc;          /* own thread, GIL: the exception for IR_STOP_SIGNAL */
    struct nl_park *parks;         /* own thread: its parked V8 locks, one per environment */
    int nparks;                    /* own thread: how many */
    struct nl_park *entry_park;    /* own thread: the park keeping its isolate entered, or NULL */
    atomic_int entering;           /* nl_parks_mutex to set: in another isolate, entry_park's kept */
    atomic_int v8_reset;           /* nl_parks_mutex: set by a teardown, entry_park's isolate went away */
} nl_thread;

/* The calling thread's record (made on first use). Any thread, no GIL needed. */
nl_thread *nl_thread_self(void);
/* A token unique to the calling thread (its record's address). */
uintptr_t nl_self(void);

/* Around a Python thread's entry into env's isolate (a Locker and scopes)
 * from outside every isolate: begin applies a pending v8_reset and pops the
 * isolate entry the thread keeps for another environment, or when it cannot,
 * flags `entering` until end (after the scopes' exit). begin returns what end
 * takes. No GIL needed (nodelock.c, parked locks). */
int nl_v8_guard_begin(nl_thread *me, rt_env *env);
void nl_v8_guard_end(nl_thread *me, int guard);

/* True when the calling thread holds the Node lock of env. Any thread, no GIL
 * needed (only the owner writes `owner` to its own token). */
static inline int nl_is_mine(rt_env *env) {
    return atomic_load_explicit(&env->owner, memory_order_relaxed) == nl_self();
}

/* Records the calling thread as the owner of env's Node lock at depth 1, or
 * forgets it. The caller holds env->mutex (or, for a Node worker_thread's
 * environment, is its thread). No GIL needed. */
void nl_mark_mine(rt_env *env);
void nl_unmark_mine(rt_env *env);

/* Takes the lock at depth 1 and enters the V8 scopes into `scope`, blocking.
 * The loop thread, GIL not held. */
void nl_lock_without_gil(rt_env *env, em_scope *scope);
/* nl_lock_without_gil for the loop thread's next turn: first waits until no
 * Python thread is between two statements that use env (taking the GIL to
 * see it), for at most env->turn_limit_ns unless a turn() block holds it.
 * The loop thread, nothing held. */
void nl_lock_for_turn(rt_env *env, em_scope *scope);
/* Releases what nl_lock_without_gil took. GIL not held. */
void nl_unlock_without_gil(rt_env *env, em_scope *scope);

/* One level of the Node lock taken for an operation from Python, with a
 * handle scope. */
typedef struct {
    em_scope scope;          /* entered when this frame took the lock */
    napi_handle_scope hscope;
    struct nl_park *park;    /* the thread's parked V8 lock this frame took back, or NULL */
    int guard;               /* what nl_v8_guard_begin returned for this frame's entry */
} nl_frame;
/* Takes the Node lock (or one more level of it) and opens a handle scope. GIL
 * held on entry and on return, released while blocking on the lock. Returns 0,
 * or -1 with EnvironmentClosed or RuntimeError (deadlock, waited past the
 * limit) set. Pair with nl_leave_with_gil. */
int nl_enter_with_gil(rt_env *env, nl_frame *frame);
/* nl_enter_with_gil without waiting: returns 1 with the lock taken, or 0 (no
 * exception) when another thread holds it or the environment is not running.
 * GIL held. */
int nl_try_enter_with_gil(rt_env *env, nl_frame *frame);
/* Closes the handle scope and releases one level of the Node lock, waking the
 * loop thread if the call changed what it waits for. GIL held. */
void nl_leave_with_gil(rt_env *env, nl_frame *frame);

/* The V8 lock that the calling thread keeps parked for env between its calls
 * (docs/threading.md#parked-locks) is destroyed: before env stops, so that
 * the thread's V8 resources go with it, unless another thread holds the
 * Node lock (the teardown then forgets the park). GIL held; never raises. */
void nl_unpark_with_gil(rt_env *env);
/* How many threads keep a lock of env parked. Any thread. */
int nl_count_parks(rt_env *env);
/* env's isolate is about to be disposed: the locks other threads keep parked
 * for it are forgotten (their V8 state goes with the isolate). Loop thread,
 * Node lock held, in the teardown, outside the V8 scopes. Returns 1 when the
 * isolate must stay (a thread keeps it entered and cannot be moved off it),
 * else 0. */
int nl_forget_parks(rt_env *env);

/* pymport_py.turn(): while the calling thread holds a turn of env, env's
 * loop thread runs no JS (timers, I/O callbacks, call_async). Nests. GIL held.
 * Return 0, or -1 with an exception (release: the thread holds none). */
int nl_hold_turn_with_gil(rt_env *env);
int nl_release_turn_with_gil(rt_env *env);
/* True when the calling thread holds a turn of env. GIL held. */
int nl_holds_turn(rt_env *env);
/* The calling thread is about to block until env's loop thread settles
 * something (a Promise, a call_async result): the loop thread stops backing
 * off and takes its turn as soon as the thread lets go of the GIL. Any thread,
 * any locks. */
void nl_python_will_wait(rt_env *env);

/* Marks the calling thread as inside a call from JS into Python (nests), for
 * the wait limit. No lock taken; no GIL needed. */
void nl_begin_python_callback(void);
void nl_end_python_callback(void);
/* How long nl_enter_with_gil waits for a lock whose owner stays in a Python
 * callback (ns; 0: no limit). Process-wide; any thread. */
void nl_set_python_wait_limit(int64_t ns);

#endif
