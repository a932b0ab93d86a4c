/* nodelock.c - the Node lock: one per environment, re-entrant per thread.
 *
 * The lock is env->mutex plus the V8 Locker and scopes (em_scope). Two ways in:
 * - the loop thread takes it without the GIL (nl_lock_without_gil) for each
 *   turn of its loop;
 * - a Python thread takes it with the GIL held (nl_enter_with_gil), releasing
 *   the GIL while it blocks, since lock order is Node lock, then GIL.
 * The loop thread takes its turn only when no Python thread is between two
 * statements that use the environment (nl_lock_for_turn): run-to-completion,
 * as Node code expects it (docs/threading.md#turns).
 * A thread that waits does so in 20 ms slices and gives up rather than
 * deadlock silently: on a cycle of waits between environments (found by
 * following owner -> waiting_for under `nl_waits`), or when the owner stays
 * in a Python callback past the limit (docs/threading.md#deadlocks). */
#include "nodelock.h"

#include "calls.h"
#include "interrupts.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Thread_local nl_thread *nl_me;
static nl_thread nl_fallback_thread; /* if calloc fails: detection is then off */

nl_thread *nl_thread_self(void) {
    if (!nl_me) {
        nl_me = calloc(1, sizeof *nl_me);
        if (!nl_me) nl_me = &nl_fallback_thread;
    }
    return nl_me;
}

uintptr_t nl_self(void) { return (uintptr_t)nl_thread_self(); }

void nl_mark_mine(rt_env *env) {
    nl_thread *me = nl_thread_self();
    atomic_fetch_add(&me->held, 1);
    atomic_store_explicit(&env->owner, (uintptr_t)me, memory_order_relaxed);
    env->depth = 1;
}

void nl_unmark_mine(rt_env *env) {
    env->depth = 0;
    atomic_store_explicit(&env->owner, 0, memory_order_relaxed);
    atomic_fetch_sub(&nl_thread_self()->held, 1);
}

/* Guards every thread's waiting_for while the cycle walk reads it. */
static pthread_mutex_t nl_waits = PTHREAD_MUTEX_INITIALIZER;

/* Sets or clears what the calling thread waits for, under `nl_waits`. */
static void nl_set_waiting_for(nl_thread *me, rt_env *env) {
    pthread_mutex_lock(&nl_waits);
    atomic_store(&me->waiting_for, env);
    pthread_mutex_unlock(&nl_waits);
}

/* True if waiting for env's lock closes a cycle (its owner waits for a lock
 * whose owner waits ... for a lock this thread holds) and this thread is the
 * one of the cycle to give way: the one with the highest token, so that
 * exactly one thread of a cycle raises and the others go on.
 * A thread's waiting_for stays alive while it is set (the waiting thread's
 * caller holds the environment), and it is cleared under `nl_waits`: the
 * walk holds that mutex so that no environment on it is freed meanwhile. */
static int nl_closes_cycle(rt_env *env) {
    nl_thread *me = nl_thread_self();
    uintptr_t highest = (uintptr_t)me;
    int cycle = 0;
    pthread_mutex_lock(&nl_waits);
    for (int hops = 0; env && hops < 64; hops++) {
        nl_thread *owner = (nl_thread *)atomic_load(&env->owner);
        if (!owner) break;
        if (owner == me) {
            cycle = highest == (uintptr_t)me;
            break;
        }
        if ((uintptr_t)owner > highest) highest = (uintptr_t)owner;
        env = atomic_load(&owner->waiting_for);
    }
    pthread_mutex_unlock(&nl_waits);
    return cycle;
}

/* How long a thread waits for a Node lock whose owner stays inside a Python
 * callback before it gives up (ns; 0: forever). Process-wide setting. */
static _Atomic int64_t nl_python_wait_limit = 10LL * 1000000000;

void nl_set_python_wait_limit(int64_t ns) { atomic_store(&nl_python_wait_limit, ns); }

void nl_begin_python_callback(void) { atomic_fetch_add(&nl_thread_self()->in_python, 1); }
void nl_end_python_callback(void) { atomic_fetch_sub(&nl_thread_self()->in_python, 1); }

/* ---- turns ----
 *
 * A Python thread's statements between two of its blocking points (sleep, a
 * wait, I/O, the end of a switch interval) are one turn, as a synchronous run
 * of JS is under node: the loop thread delivers no event in the middle of
 * one, so a listener attached in the statement after the call that made the
 * emitter catches the emitter's events. The loop thread sees such a point by
 * taking the GIL (which a Python thread lets go of only there, or inside a
 * call into JS) while no Python thread is inside, or waiting for, a call into
 * this environment (`py_callers`, changed with the GIL held). It does so only
 * when a call from Python ended since its last turn (`turn_calls`); it stops
 * yielding after `turn_limit_ns` (a thread that calls JS back to back without
 * ever blocking), unless pymport_py.turn() holds the turn. */

/* Wakes the threads waiting on tcond if there are any. Any thread, no lock
 * needed. */
static void nl_notify_turn(rt_env *env) {
    if (!atomic_load(&env->turn_waiters)) return;
    pthread_mutex_lock(&env->tmutex);
    pthread_cond_broadcast(&env->tcond);
    pthread_mutex_unlock(&env->tmutex);
}

/* Waits on tcond (at most until `until_ns`, and 20 ms) while `busy(env)`. No
 * lock held, GIL not held. */
static void nl_wait_turn_while(rt_env *env, int (*busy)(rt_env *), int64_t until_ns) {
    int64_t now = rt_now_ns();
    if (until_ns > now + 20 * 1000000LL) until_ns = now + 20 * 1000000LL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + (until_ns > now ? until_ns - now : 0);
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&env->tmutex);
    atomic_fetch_add(&env->turn_waiters, 1);
    while (busy(env) && atomic_load(&env->state) == RT_RUNNING &&
           pthread_cond_timedwait(&env->tcond, &env->tmutex, &until) == 0) {
    }
    atomic_fetch_sub(&env->turn_waiters, 1);
    pthread_mutex_unlock(&env->tmutex);
}

static int nl_python_busy(rt_env *env) {
    return atomic_load(&env->py_callers) > 0 || atomic_load(&env->turns_held) > 0;
}

static int nl_turn_held(rt_env *env) { return atomic_load(&env->turns_held) > 0; }

static int nl_loop_forced(rt_env *env) { return atomic_load(&env->loop_forced); }

static int nl_no_wait_announced(rt_env *env) {
    return atomic_load(&env->python_waits) == env->waits_seen;
}

void nl_python_will_wait(rt_env *env) {
    atomic_fetch_add(&env->python_waits, 1);
    nl_notify_turn(env);
}

/* A thread counted in py_callers is done with the lock (or gave up on it). */
static void nl_caller_done(rt_env *env) { atomic_fetch_sub(&env->py_callers, 1); }

/* How long the loop thread backs off when it found a Python thread inside a
 * call: it looks again only once calls stopped for that long, so that a
 * thread calling back to back does not hand the GIL over at every call. */
#define NL_BACKOFF_NS 50000L

void nl_lock_for_turn(rt_env *env, em_scope *scope) {
    int64_t since = 0;
    int backoff = 0;
    for (;;) {
        if (atomic_load(&env->state) != RT_RUNNING || cp_is_finalizing()) {
            pthread_mutex_lock(&env->mutex); /* no Python left to wait for */
            break;
        }
        if (!nl_python_busy(env) && atomic_load(&env->turn_calls) == env->turn_seen) {
            /* Nothing from Python since the last turn, so no thread is
             * between two statements that use the environment; a call that
             * ends while this thread waits for the mutex opens a turn. */
            pthread_mutex_lock(&env->mutex);
            if (atomic_load(&env->turn_calls) == env->turn_seen && !nl_turn_held(env)) break;
            pthread_mutex_unlock(&env->mutex);
            continue;
        }
        int64_t now = rt_now_ns();
        if (!since) since = now;
        if (nl_turn_held(env)) {
            nl_wait_turn_while(env, nl_turn_held, now + 20 * 1000000LL);
            continue;
        }
        if (now - since >= env->turn_limit_ns) {
            /* Calls from Python came back to back all along: go in at the
             * end of one, before the next (which waits for loop_forced). */
            atomic_store(&env->loop_forced, 1);
            pthread_mutex_lock(&env->mutex);
            atomic_store(&env->loop_forced, 0);
            nl_notify_turn(env);
            break;
        }
        if (backoff) {
            /* Wait while calls go on, unless a Python thread says it is about
             * to block on this environment (nl_python_will_wait). */
            unsigned calls = atomic_load(&env->turn_calls);
            env->waits_seen = atomic_load(&env->python_waits);
            nl_wait_turn_while(env, nl_no_wait_announced, rt_now_ns() + NL_BACKOFF_NS);
            if (atomic_load(&env->python_waits) == env->waits_seen &&
                (nl_python_busy(env) || atomic_load(&env->turn_calls) != calls))
                continue;
        }
        PyGILState_STATE gil;
        if (!cp_gil_ensure(&gil)) continue;
        /* With the GIL: every Python thread is blocked, inside a call into JS,
         * or at a switch interval. */
        int mine = !nl_python_busy(env) && pthread_mutex_trylock(&env->mutex) == 0;
        PyGILState_Release(gil);
        if (mine) break;
        backoff = 1;
    }
    env->turn_seen = atomic_load(&env->turn_calls);
    em_scope_enter(env->setup, scope);
    nl_mark_mine(env);
}

/* The turns the calling thread holds (pymport_py.turn()), innermost last. */
#define NL_MAX_TURNS 16
static _Thread_local rt_env *nl_turns[NL_MAX_TURNS];
static _Thread_local int nl_nturns;

int nl_hold_turn_with_gil(rt_env *env) {
    if (atomic_load(&env->state) != RT_RUNNING || rt_is_forked_child()) return rt_raise_closed(env);
    if (env->foreign || rt_is_loop_thread(env)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "turn() is for Python threads: JavaScript of this environment already "
                        "runs to completion on its own thread");
        return -1;
    }
    if (nl_nturns == NL_MAX_TURNS) {
        PyErr_SetString(PyExc_RuntimeError, "too many nested turn() blocks");
        return -1;
    }
    nl_turns[nl_nturns++] = env;
    atomic_fetch_add(&env->turns_held, 1);
    return 0;
}

int nl_release_turn_with_gil(rt_env *env) {
    for (int i = nl_nturns - 1; i >= 0; i--) {
        if (nl_turns[i] != env) continue;
        for (int j = i; j + 1 < nl_nturns; j++) nl_turns[j] = nl_turns[j + 1];
        nl_nturns--;
        atomic_fetch_add(&env->turn_calls, 1); /* the block's statements were one turn */
        if (atomic_fetch_sub(&env->turns_held, 1) == 1) nl_notify_turn(env);
        return 0;
    }
    PyErr_SetString(PyExc_RuntimeError, "this thread holds no turn() of this environment");
    return -1;
}

int nl_holds_turn(rt_env *env) {
    for (int i = 0; i < nl_nturns; i++)
        if (nl_turns[i] == env) return 1;
    return 0;
}

/* Takes env's mutex, blocking with the GIL released (GIL held on entry and
 * return). The wait goes in slices so that silent deadlocks become errors:
 * - a thread that holds another environment's Node lock checks for a cycle of
 *   waits between environments (JS in A calls Python that calls B while JS in
 *   B calls Python that calls A);
 * - a thread whose lock's owner stays inside a Python callback (called from
 *   JS) longer than the limit gives up: that owner may be waiting for it
 *   (joining this thread, say), which no lock can show.
 * Returns 0, or -1 with RuntimeError (EnvironmentClosed when the environment
 * stopped meanwhile). */
static int nl_wait_releasing_gil(rt_env *env) {
    if (!atomic_load(&env->loop_forced) && pthread_mutex_trylock(&env->mutex) == 0) return 0;
    nl_thread *me = nl_thread_self();
    int deadlock = 0, stuck = 0, closed = 0;
    int64_t limit = atomic_load(&nl_python_wait_limit), in_python_since = 0;
    Py_BEGIN_ALLOW_THREADS
    nl_set_waiting_for(me, env);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (atomic_load(&env->loop_forced)) {
            /* The loop thread's turn is overdue: it goes first. */
            nl_wait_turn_while(env, nl_loop_forced, rt_now_ns() + 20 * 1000000LL);
            if (!atomic_load(&env->loop_forced) && pthread_mutex_trylock(&env->mutex) == 0) break;
        } else if (pthread_mutex_timedlock(&env->mutex, &until) == 0) {
            break;
        }
        /* A stopping environment's lock is held by its teardown, which may wait
         * for this thread (Node joins its worker_threads): give up. */
        if (atomic_load(&env->state) != RT_RUNNING) {
            closed = 1;
            break;
        }
        if (atomic_load(&me->held) > 0 && nl_closes_cycle(env)) {
            deadlock = 1;
            break;
        }
        nl_thread *owner = (nl_thread *)atomic_load(&env->owner);
        if (limit > 0 && owner && atomic_load(&owner->in_python) > 0) {
            int64_t now = rt_now_ns();
            if (!in_python_since) in_python_since = now;
            if (now - in_python_since >= limit) {
                stuck = 1;
                break;
            }
        } else {
            in_python_since = 0;
        }
    }
    nl_set_waiting_for(me, NULL);
    Py_END_ALLOW_THREADS
    if (closed) return rt_raise_closed(env);
    if (deadlock) {
        PyErr_SetString(PyExc_RuntimeError,
                        "deadlock: this thread holds a Node environment's lock and waits for "
                        "another's whose owner waits for it (JavaScript in two environments "
                        "calling Python that calls the other one); use call_async for one of "
                        "the calls");
        return -1;
    }
    if (stuck) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "gave up waiting for a Node environment after %.1f s: the thread that holds "
                 "it is inside a Python function called from JavaScript; if that function "
                 "waits for this thread (joins it, waits for its result), it can never "
                 "return. Use call_async from this thread, or let the callback return first "
                 "(pymport_py.set_lock_wait_limit changes the limit)",
                 (double)limit / 1e9);
        PyErr_SetString(PyExc_RuntimeError, msg);
        return -1;
    }
    return 0;
}

/* ---- the loop thread's lock: no GIL involved ---- */

void nl_lock_without_gil(rt_env *env, em_scope *scope) {
    pthread_mutex_lock(&env->mutex);
    em_scope_enter(env->setup, scope);
    nl_mark_mine(env);
}

void nl_unlock_without_gil(rt_env *env, em_scope *scope) {
    nl_unmark_mine(env);
    em_scope_exit(scope);
    pthread_mutex_unlock(&env->mutex);
}

/* Wakes the loop thread when the work done under the lock changed what it
 * waits for: an earlier timer, pending callbacks, or new I/O watchers (for
 * which uv_backend_timeout() is 0, compat.h). env->sleep_until is our own
 * record of when the loop thread means to wake. Node lock held, not on the
 * loop thread. */
static void nl_wake_loop_if_needed(rt_env *env) {
    uv_loop_t *loop = env->loop;
    int timeout = uv_backend_timeout(loop);
    int wake = timeout == 0 ||
               (timeout > 0 && (env->sleep_until < 0 ||
                                (int64_t)(uv_now(loop) + (uint64_t)timeout) < env->sleep_until));
    if (wake) uv_async_send(&env->wake);
}

/* ---- parked locks ----
 *
 * A thread that calls into an environment keeps its top-level v8::Locker of
 * the isolate between calls, parked behind a v8::Unlocker (em_park): V8 then
 * archives the thread's state only when another thread takes the isolate
 * meanwhile, instead of allocating and freeing the thread's V8 resources at
 * every call. env->mutex stays what decides who holds the lock; the park only
 * changes what taking it costs.
 * Only the thread that started the environment parks (usually the one that
 * calls it most, and the one that closes it): a park of another thread that
 * outlives the environment would keep V8's memory for that thread (a handle
 * block) until the process ends.
 * A park lives until its thread ends (nl_thread_ends, a pthread key
 * destructor, which needs env->mutex to destroy it on its thread), until the
 * thread shuts env down (nl_unpark_with_gil), or until env's teardown, which
 * forgets it (its V8 state goes with the isolate: `dead`, and the thread frees
 * the struct). A thread that ends while it cannot get env->mutex leaves its
 * park `abandoned` for the teardown to free.
 * A park taken (made or locked) by a thread in no isolate keeps that isolate
 * entered too (`entry_park`, em_park_holds_entry), which saves the most
 * expensive step of taking the lock. The isolate is then the thread's current
 * one in V8's thread locals, which only that thread can change; an entry into
 * another isolate records it as the one to go back to, and reads it.
 * - Before the thread enters another isolate from outside every isolate, it
 *   pops its entry (em_park_drop_entry) under that environment's mutex, which
 *   it only tries for (nl_v8_guard_begin): the new entry then goes back to no
 *   isolate. If the mutex is busy, the thread enters with its entry kept and
 *   flags `entering` until it is out again.
 * - The teardown of an environment whose park still holds the entry pops it
 *   (an isolate cannot be disposed while entered), pushes an entry of the
 *   anchor isolate (em_anchor_push) and sets the thread's `v8_reset`: before
 *   its next use of V8 from outside every isolate, the thread exits the anchor,
 *   and its thread locals then name no isolate, not the disposed one. A thread
 *   flagged `entering` would go back to this isolate on its way out: then the
 *   isolate stays (it leaks; nl_forget_parks).
 * `v8_reset` changes under nl_parks_mutex, `entering` is set under it; a
 * park's entry changes under env->mutex (and nl_parks_mutex, but for its
 * thread taking it back), and other threads read it under both. */
typedef struct nl_park nl_park;
struct nl_park {
    em_park *em;
    nl_thread *thread;    /* its thread (never freed) */
    rt_env *env;          /* compared, never dereferenced, once `dead` */
    uint64_t serial;      /* env->serial: env's address may be reused later */
    int dead;             /* nl_parks_mutex: env was torn down */
    int abandoned;        /* nl_parks_mutex: its thread ended without destroying it */
    struct nl_park *next; /* own thread: the thread's parks */
    struct nl_park *env_next, **env_prev; /* nl_parks_mutex: env->parks */
};

/* Guards every environment's `parks` list and every park's dead/abandoned. */
static pthread_mutex_t nl_parks_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Runs nl_thread_ends when a thread that made a park ends. */
static pthread_key_t nl_parks_key;
static pthread_once_t nl_parks_once = PTHREAD_ONCE_INIT;
static int nl_parks_key_ok;

/* Past this many environments, a thread takes full locks for the others. */
#define NL_MAX_PARKS 8

static void nl_thread_ends(void *thread);

static void nl_parks_init(void) {
    nl_parks_key_ok = pthread_key_create(&nl_parks_key, nl_thread_ends) == 0;
}

/* The calling thread's park for env (which is running), or NULL. */
static nl_park *nl_park_of(nl_thread *me, rt_env *env) {
    for (nl_park *p = me->parks; p; p = p->next)
        if (p->env == env && p->serial == env->serial) return p;
    return NULL;
}

/* Unlinks p from its thread's list. Own thread. */
static void nl_park_unlink(nl_thread *me, nl_park *p) {
    for (nl_park **pp = &me->parks; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            me->nparks--;
            if (me->entry_park == p) me->entry_park = NULL;
            return;
        }
    }
}

/* Unlinks p from its environment's list. nl_parks_mutex held. */
static void nl_park_unlink_env(nl_park *p) {
    if (!p->env_prev) return;
    *p->env_prev = p->env_next;
    if (p->env_next) p->env_next->env_prev = p->env_prev;
    p->env_prev = NULL;
}

/* Frees the calling thread's parks whose environments were torn down. */
static void nl_sweep_dead_parks(nl_thread *me) {
    pthread_mutex_lock(&nl_parks_mutex);
    for (nl_park **pp = &me->parks; *pp;) {
        nl_park *p = *pp;
        if (!p->dead) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        me->nparks--;
        if (me->entry_park == p) me->entry_park = NULL;
        em_park_forget(p->em);
        free(p);
    }
    pthread_mutex_unlock(&nl_parks_mutex);
}

/* Makes a park for env, locked (env->mutex held, state running, this thread
 * holds no V8 lock of env). Returns NULL when the thread takes a full lock
 * instead (too many parks, out of memory). */
static nl_park *nl_park_new(nl_thread *me, rt_env *env) {
    pthread_once(&nl_parks_once, nl_parks_init);
    if (!nl_parks_key_ok) return NULL;
    if (me->nparks) nl_sweep_dead_parks(me);
    if (me->nparks >= NL_MAX_PARKS) return NULL;
    nl_park *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (!(p->em = em_park_new(env->setup))) {
        free(p);
        return NULL;
    }
    p->env = env;
    p->serial = env->serial;
    p->thread = me;
    if (em_park_holds_entry(p->em)) me->entry_park = p;
    pthread_setspecific(nl_parks_key, me);
    p->next = me->parks;
    me->parks = p;
    me->nparks++;
    pthread_mutex_lock(&nl_parks_mutex);
    p->env_next = env->parks;
    if (env->parks) env->parks->env_prev = &p->env_next;
    env->parks = p;
    p->env_prev = &env->parks;
    pthread_mutex_unlock(&nl_parks_mutex);
    return p;
}

/* Destroys p on its thread: env->mutex held (p's environment alive), p
 * unlinked from the environment. */
static void nl_park_destroy(nl_thread *me, nl_park *p) {
    nl_park_unlink(me, p);
    em_park_free(p->em);
    free(p);
}

/* Exits the anchor isolate if a teardown left this thread an entry of it:
 * its V8 thread locals then name no isolate. Own thread, in no isolate's
 * scopes (holding no Node lock). */
static void nl_apply_v8_reset(nl_thread *me) {
    if (!atomic_load(&me->v8_reset)) return;
    em_anchor_pop();
    atomic_store(&me->v8_reset, 0);
}

/* Ends one park of a thread that ends: destroys it on this thread under its
 * environment's mutex, which it waits for a little (trylock: the teardown
 * takes nl_parks_mutex while it holds env->mutex), and otherwise leaves it to
 * the teardown. `give_up`: abandon it at once. Returns 0, or -1 if the park was
 * abandoned while its environment lives. */
static int nl_end_park(nl_thread *me, nl_park *p, int give_up) {
    for (int tries = 0;; tries++) {
        pthread_mutex_lock(&nl_parks_mutex);
        if (p->dead) {
            pthread_mutex_unlock(&nl_parks_mutex);
            nl_park_unlink(me, p);
            em_park_forget(p->em);
            free(p);
            return 0;
        }
        /* Not dead: env lives while nl_parks_mutex is held. */
        rt_env *env = p->env;
        if (!give_up && em_park_can_free(p->em) && pthread_mutex_trylock(&env->mutex) == 0) {
            nl_park_unlink_env(p);
            pthread_mutex_unlock(&nl_parks_mutex);
            nl_park_destroy(me, p);
            pthread_mutex_unlock(&env->mutex);
            return 0;
        }
        if (give_up || tries == 100) {
            p->abandoned = 1;
            nl_park_unlink(me, p);
            pthread_mutex_unlock(&nl_parks_mutex);
            return -1;
        }
        pthread_mutex_unlock(&nl_parks_mutex);
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

/* A thread with parks ends (pthread key destructor; no GIL, no Node lock).
 * The park holding an isolate's entry goes first: destroying the others
 * enters their isolates, which reads the thread's current one. When it
 * cannot go (abandoned), neither do the others. */
static void nl_thread_ends(void *thread) {
    nl_thread *me = thread;
    int give_up = 0;
    if (me->entry_park) give_up = nl_end_park(me, me->entry_park, 0) < 0;
    nl_apply_v8_reset(me);
    while (me->parks) nl_end_park(me, me->parks, give_up);
}

int nl_count_parks(rt_env *env) {
    int n = 0;
    pthread_mutex_lock(&nl_parks_mutex);
    for (nl_park *p = env->parks; p; p = p->env_next) n += !p->abandoned;
    pthread_mutex_unlock(&nl_parks_mutex);
    return n;
}

int nl_forget_parks(rt_env *env) {
    int keep = 0;
    pthread_mutex_lock(&nl_parks_mutex);
    while (env->parks) {
        nl_park *p = env->parks;
        nl_park_unlink_env(p);
        if (p->abandoned) {
            em_park_drop_entry(p->em);
            em_park_forget(p->em);
            free(p);
            continue;
        }
        if (em_park_holds_entry(p->em)) {
            if (!atomic_load(&p->thread->entering) && em_anchor_push() == 0) {
                em_park_drop_entry(p->em);
                atomic_store(&p->thread->v8_reset, 1);
            } else {
                /* The thread is inside another isolate that goes back to this
                 * one on exit, or no anchor entry could be made (out of
                 * memory): the isolate stays, entered by the thread, which
                 * goes on as in any other isolate. */
                keep = 1;
            }
        }
        p->dead = 1;
    }
    pthread_mutex_unlock(&nl_parks_mutex);
    return keep;
}

/* ---- calls from Python: GIL held ---- */

int nl_v8_guard_begin(nl_thread *me, rt_env *env) {
    if (atomic_load_explicit(&me->held, memory_order_relaxed) > 0) return 0; /* in an isolate it holds */
    nl_park *ep = me->entry_park;
    if (!ep && !atomic_load(&me->v8_reset)) return 0;
    if (ep && ep->env == env && ep->serial == env->serial) return 0; /* its own isolate: no entry */
    int flagged = 0;
    pthread_mutex_lock(&nl_parks_mutex);
    nl_apply_v8_reset(me);
    ep = me->entry_park;
    if (ep && !ep->dead && em_park_holds_entry(ep->em)) {
        if (pthread_mutex_trylock(&ep->env->mutex) == 0) {
            em_park_drop_entry(ep->em);
            pthread_mutex_unlock(&ep->env->mutex);
            me->entry_park = NULL;
        } else {
            atomic_store(&me->entering, 1);
            flagged = 1;
        }
    } else if (ep) {
        me->entry_park = NULL; /* dead, or it gave its entry up */
    }
    pthread_mutex_unlock(&nl_parks_mutex);
    return flagged;
}

void nl_v8_guard_end(nl_thread *me, int guard) {
    if (guard) atomic_store(&me->entering, 0);
}

/* With env->mutex just taken: enters the V8 scopes and becomes the owner,
 * unless the environment stopped meanwhile. Returns 0, or -1 with the mutex
 * released. No GIL needed. */
static int nl_claim_after_mutex(rt_env *env, nl_frame *frame) {
    if (atomic_load(&env->state) != RT_RUNNING) {
        pthread_mutex_unlock(&env->mutex);
        return -1;
    }
    nl_thread *me = nl_thread_self();
    frame->guard = nl_v8_guard_begin(me, env);
    nl_park *park = NULL;
    if (env->starter == (uintptr_t)me) {
        park = nl_park_of(me, env);
        if (park) {
            em_park_lock(park->em);
            if (em_park_holds_entry(park->em)) me->entry_park = park;
        } else {
            park = nl_park_new(me, env);
        }
    }
    frame->park = park;
    if (park) em_scope_enter_locked(env->setup, &frame->scope);
    else em_scope_enter(env->setup, &frame->scope);
    nl_mark_mine(env);
    return 0;
}

/* Opens the frame's handle scope: the V8 scopes' own at depth 1, which close
 * with the lock. Returns 0, or -1 with this level of the lock released. */
static int nl_open_frame(rt_env *env, nl_frame *frame) {
    frame->hscope = NULL;
    if (env->depth == 1 || napi_open_handle_scope(env->napi, &frame->hscope) == napi_ok) return 0;
    frame->hscope = NULL;
    nl_leave_with_gil(env, frame);
    return -1;
}

int nl_enter_with_gil(rt_env *env, nl_frame *frame) {
    frame->park = NULL;
    frame->guard = 0;
    if (rt_is_forked_child()) return rt_raise_closed(env);
    if (nl_is_mine(env)) {
        env->depth++;
    } else if (env->foreign) {
        if (atomic_load(&env->state) != RT_RUNNING) return rt_raise_closed(env);
        PyErr_SetString(PyExc_RuntimeError,
                        "this JavaScript object belongs to a Node worker_thread: use it on that "
                        "thread (inside a call from its JavaScript)");
        return -1;
    } else {
        if (atomic_load(&env->state) != RT_RUNNING) return rt_raise_closed(env);
        atomic_fetch_add(&env->py_callers, 1); /* the loop thread waits for it */
        /* Never block on the Node lock with the GIL held. */
        if (nl_wait_releasing_gil(env) < 0) {
            nl_caller_done(env);
            return -1;
        }
        if (nl_claim_after_mutex(env, frame) < 0) {
            nl_caller_done(env);
            return rt_raise_closed(env);
        }
    }
    if (nl_open_frame(env, frame) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot open a JavaScript handle scope");
        return -1;
    }
    return 0;
}

int nl_try_enter_with_gil(rt_env *env, nl_frame *frame) {
    frame->park = NULL;
    frame->guard = 0;
    if (rt_is_forked_child() ||
        atomic_load(&env->state) != RT_RUNNING)
        return 0;
    if (nl_is_mine(env)) {
        env->depth++;
    } else if (env->foreign || atomic_load(&env->loop_forced)) {
        return 0;
    } else {
        atomic_fetch_add(&env->py_callers, 1);
        if (pthread_mutex_trylock(&env->mutex) != 0 || nl_claim_after_mutex(env, frame) < 0) {
            nl_caller_done(env);
            return 0;
        }
    }
    return nl_open_frame(env, frame) == 0;
}

/* nl_leave_with_gil; with `unpark`, the outermost level destroys the
 * thread's park instead of parking it again. */
static void nl_leave(rt_env *env, nl_frame *frame, int unpark) {
    if (frame->hscope) napi_close_handle_scope(env->napi, frame->hscope);
    if (--env->depth > 0) return;
    cl_drop_kept_of(env); /* its call is over: nobody will take it */
    /* A termination that hit JS run by a property access (a getter at the heap
     * limit) ends here; the access already raised. */
    ir_end_termination(env);
    if (atomic_load(&env->state) == RT_RUNNING && !rt_is_loop_thread(env)) {
        /* The loop thread runs what the calls deferred at its next turn. */
        if (env->drain_pending) uv_async_send(&env->wake);
        else nl_wake_loop_if_needed(env);
    }
    atomic_fetch_add_explicit(&env->turn_calls, 1, memory_order_relaxed);
    nl_unmark_mine(env);
    em_scope_exit(&frame->scope);
    if (frame->park && unpark) {
        pthread_mutex_lock(&nl_parks_mutex);
        nl_park_unlink_env(frame->park);
        pthread_mutex_unlock(&nl_parks_mutex);
        nl_park_destroy(nl_thread_self(), frame->park);
    } else if (frame->park) {
        em_park_unlock(frame->park->em);
    }
    if (frame->guard) nl_v8_guard_end(nl_thread_self(), frame->guard);
    pthread_mutex_unlock(&env->mutex);
    nl_caller_done(env);
}

void nl_leave_with_gil(rt_env *env, nl_frame *frame) { nl_leave(env, frame, 0); }

void nl_unpark_with_gil(rt_env *env) {
    nl_thread *me = nl_thread_self();
    if (nl_is_mine(env) || !me->parks || atomic_load(&env->state) != RT_RUNNING) return;
    /* A park that keeps its isolate entered is left to the teardown when the
     * thread is inside another isolate's scopes now. */
    nl_park *park = nl_park_of(me, env);
    if (!park) return;
    pthread_mutex_lock(&nl_parks_mutex);
    int can_free = !park->dead && em_park_can_free(park->em);
    pthread_mutex_unlock(&nl_parks_mutex);
    if (!can_free) return;
    /* Without waiting: the lock's holder may be JS that only the stop ends
     * (an 'exit' listener that never returns); the teardown then forgets
     * the park. */
    nl_frame frame;
    if (nl_try_enter_with_gil(env, &frame)) nl_leave(env, &frame, 1);
}
