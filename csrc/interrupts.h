/* interrupts.h - Ctrl-C, deadlines and the heap limit (ir_): they stop
 * running JS by terminating it, and the call then raises a Python exception. */
#ifndef PYMPORT_INTERRUPTS_H
#define PYMPORT_INTERRUPTS_H

#include "runtime.h"

/* Why the JS of a call was terminated (rt_env.stop_reason, nl_thread.report). */
typedef enum {
    IR_STOP_NONE = 0,
    IR_STOP_SIGNAL,   /* a Python signal handler raised (Ctrl-C: KeyboardInterrupt) */
    IR_STOP_DEADLINE, /* pymport_py.deadline() passed: TimeoutError */
    IR_STOP_HEAP,     /* the heap limit: MemoryError */
} ir_stop_reason;

/* The wakeup fd for Python's signal.set_wakeup_fd (a non-blocking pipe), or
 * -1. Starts the watcher thread. Any thread. */
int ir_signal_fd(void);
/* Records Python's main thread (PyThread_get_thread_ident) for Ctrl-C. */
void ir_set_main_thread(unsigned long ident);
/* Sets or clears (0) the calling thread's deadline, in CLOCK_MONOTONIC ns. */
void ir_set_deadline(int64_t deadline_ns);
int64_t ir_get_deadline(void);

/* Lists (add = 1) or unlists a running environment for the watcher. Any
 * thread. */
void ir_watch_env(rt_env *env, int add);
/* V8's near-heap-limit callback (em_setup_on_heap_limit): on the thread
 * running JS, Node lock held. */
void ir_on_heap_limit(void *data);

/* One call into JS, as the interrupts see it (cl_invoke). */
typedef struct {
    int outer;        /* the thread's outermost call: what Ctrl-C and deadlines stop */
    int loop_call;    /* an outermost call on the loop thread (a task) */
    int main_call;    /* an outermost call on Python's main thread */
    int64_t deadline; /* the thread's deadline, for an outermost call; 0: none */
} ir_call;
/* Before the JS of a call runs: lets the watcher stop it. Returns 0, or -1
 * when a signal handler raised before it started (kept for
 * ir_raise_interrupt; the call must not run). Node lock and GIL held. */
int ir_call_begin(rt_env *env, ir_call *call);
/* After the JS of the call returned. Any lock; no GIL needed. */
void ir_call_end(rt_env *env, const ir_call *call);
/* Keeps `reason` (and what the signal handlers raised) for this thread's
 * ir_raise_interrupt. GIL held. */
void ir_report(rt_env *env, int reason);

/* If this thread's JS was terminated for an interrupt: ends the termination
 * and returns the reason (else IR_STOP_NONE). Node lock held, no JS of this
 * thread on the stack; no GIL needed. */
int ir_end_termination(rt_env *env);
/* The pending interrupt of the calling thread, as a Python exception: returns
 * -1 with KeyboardInterrupt (or what the signal handler raised), TimeoutError
 * or MemoryError set when this thread's JS was terminated for one, else 0.
 * Node lock and GIL held. */
int ir_raise_interrupt(rt_env *env);

#endif
