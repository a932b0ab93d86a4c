/* queue.h - the environment's task queue and wake-up handle (tq_). */
#ifndef PYMPORT_QUEUE_H
#define PYMPORT_QUEUE_H

#include "runtime.h"

/* Work for the environment's thread (tq_post). */
struct tq_task {
    tq_task *next; /* queue link, under the environment's `qmutex` */
    /* Runs on the environment's thread with the Node lock and the GIL held;
     * owns the task. */
    void (*run)(rt_env *env, tq_task *task);
    /* Runs instead when the environment closes first: the Node lock may be
     * held, the GIL is (tq_run_tasks) or is not (tq_close); owns the task. */
    void (*cancel)(rt_env *env, tq_task *task);
};

/* Queues a task for the loop thread and wakes it. Any thread, no lock needed.
 * Returns 0, or -1 when the environment is closing (the task was not queued
 * and is still the caller's). */
int tq_post(rt_env *env, tq_task *task);
/* No more tasks or wakes: cancels what is queued. The environment's thread. */
void tq_close(rt_env *env);
/* `wake` is open (uv_async_init done): posts and wakes are allowed. The
 * environment's thread. */
void tq_open(rt_env *env);
/* Wakes the environment's thread, unless `wake` is closed. Any thread, no
 * lock needed. */
void tq_wake(rt_env *env);
/* The uv_async callback of `wake`: deletes released references and runs the
 * queued tasks. The environment's thread, Node lock held, not the GIL. */
void tq_on_wake(uv_async_t *handle);

/* Waiting for a JSFuture (async.c): a waiter reads tq_settled_count() (GIL
 * held: before it looks at its future), then waits in tq_wait_settled;
 * whoever settles a future that a thread waits for calls tq_note_settled()
 * (GIL held). One count for the process: a waiter may wake for another's
 * future, and looks at its own again. */
unsigned tq_settled_count(void);
void tq_note_settled(void);
/* Waits, with no lock held and not the GIL, until tq_note_settled() was
 * called since `seen` was read, or until `until_ns` (rt_now_ns). If env's
 * thread is running a batch of tasks then, goes on waiting while the batch
 * makes progress (at most TQ_BATCH_WAIT_NS more): a thread that waits for
 * the futures of a batch one after another then takes the GIL back once or
 * twice per batch, instead of taking it from the loop thread at every task.
 * Any thread. */
void tq_wait_settled(rt_env *env, unsigned seen, int64_t until_ns);

/* Queues a reference to be deleted under the Node lock (now if the lock is
 * free or ours, else by the environment's thread). GIL held. */
void tq_release_ref(rt_env *env, napi_ref ref);
/* Deletes the queued references. Node lock held. */
void tq_drain_released(rt_env *env);
/* Forgets the queued references without deleting them (the environment's
 * teardown deletes them all). The environment's thread. */
void tq_forget_released(rt_env *env);

/* A pending operation keeps the environment busy (tq_loop_busy), and a
 * worker_thread's event loop alive, as Node's own async operations do, until
 * tq_unhold. tq_hold: Node lock held; tq_unhold: any thread, GIL held. */
void tq_hold(rt_env *env);
void tq_unhold(rt_env *env);
/* True when something would keep a `node` process running: a referenced
 * libuv handle or request other than pymport_py's own, or a hold. Node lock
 * held (the loop thread is then outside uv_run). */
int tq_loop_busy(rt_env *env);

#endif
