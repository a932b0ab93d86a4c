/* embed.h - the plain-C face of the C++ embedder shim (embed.cc).
 *
 * Everything that needs Node's C++ embedder API (process initialisation, one
 * CommonEnvironmentSetup per environment, node::Stop, teardown, the V8 locking
 * scopes) lives behind these functions so that the rest of the extension is C11
 * and uses only Node-API for values.
 *
 * Thread rules are given per function. "Loop thread" is the thread that created
 * the setup; "Node lock" is the runtime's per-environment lock (runtime.h). */
#ifndef PYMPORT_EMBED_H
#define PYMPORT_EMBED_H

#include <stddef.h>
#include <stdint.h>
#include <node_api.h>
#include <node_version.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

/* The soname of the libnode built against: libnode.so.<NODE_MODULE_VERSION>. */
#define EM_STR_(x) #x
#define EM_STR(x) EM_STR_(x)
#define EM_LIBNODE_SONAME "libnode.so." EM_STR(NODE_MODULE_VERSION)

#ifdef __cplusplus
#define EM_ALIGN16 alignas(16)
#else
#define EM_ALIGN16 _Alignas(16)
#endif
typedef struct em_setup em_setup;

/* Storage for the V8 scopes held by the Node lock's owner (Locker,
 * Isolate::Scope, HandleScope, Context::Scope). Opaque to C. */
#define EM_SCOPE_SIZE 128
typedef struct {
    EM_ALIGN16 unsigned char opaque[EM_SCOPE_SIZE];
} em_scope;

/* Initialises Node for the whole process, once (Node aborts on a second call,
 * even after teardown, so later calls return the first result). Any thread.
 * Returns 0, or -1 with a message in errbuf. */
int em_process_init(char *errbuf, size_t errlen);

/* Node majors from which environments start from Node's built-in startup
 * snapshot (unless PYMPORT_NO_SNAPSHOT=1 was set when Node initialised). */
#define EM_SNAPSHOT_MIN_MAJOR 24

/* 1 when environments start from the startup snapshot. After em_process_init;
 * any thread. */
int em_uses_snapshot(void);

/* How em_setup_create's message starts when Node rejected the options. */
#define EM_OPTIONS_ERROR "Node rejected the options:"

/* Creates an isolate, context and Node environment with kOwnsProcessState.
 * argv[0] is the program name; exec_argv are Node/V8 options (V8 flags apply to
 * the whole process). The calling thread becomes the loop thread.
 * Returns NULL with a message in errbuf on failure. */
em_setup *em_setup_create(const char *const *argv, int argc,
                          const char *const *exec_argv, int exec_argc,
                          char *errbuf, size_t errlen);

/* V8's flags are per process: an environment that could not start because
 * its --stack-size was too small would leave that size to every later one.
 * Puts V8's default back when exec_argv sets it. Any thread. */
void em_undo_stack_size(const char *const *exec_argv, int exec_argc);

/* Registers the linked binding `name` for the environment and its Node
 * worker_threads. Loop thread, before em_setup_load. */
void em_setup_add_binding(em_setup *s, const char *name, napi_addon_register_func fn);

/* Sets what process.exit() does: calls fn(data, code) (on the thread running
 * that JS) and then stops the environment. Loop thread, before em_setup_load. */
void em_setup_on_exit(em_setup *s, void (*fn)(void *data, int code), void *data);

/* Runs the embedder main script (CommonJS-like function body with `process`
 * and `require` in scope). Loop thread, scope entered. Returns 0, or -1 with
 * the stringified exception in errbuf. */
int em_setup_load(em_setup *s, const char *source, char *errbuf, size_t errlen);

/* The environment's libuv loop. Any thread (set once). */
struct uv_loop_s *em_setup_loop(em_setup *s);

/* Stops the environment: no more JS can run, running JS is terminated.
 * Any thread, at any time (node::Stop is thread-safe). */
void em_setup_stop(em_setup *s);

/* Terminates the JS running now without stopping the environment, and cancels
 * that termination again once the caller is out of JS. Any thread. */
void em_setup_terminate(em_setup *s);
/* Node lock held, no JS on this thread's stack. */
void em_setup_cancel_terminate(em_setup *s);

/* Asks the thread running this isolate's JS to call fn(data) at its next
 * interrupt check (V8 RequestInterrupt). Any thread, while the setup lives. */
void em_setup_request_interrupt(em_setup *s, void (*fn)(void *data), void *data);

/* When the heap nears its limit: calls fn(data) on the thread running JS,
 * terminates that JS and raises the limit so it can unwind (the initial limit
 * comes back once the heap shrinks). Loop thread, before em_setup_load. */
void em_setup_on_heap_limit(em_setup *s, void (*fn)(void *data), void *data);

/* Runs pending platform tasks for the isolate. Loop thread, scope entered. */
void em_setup_drain_tasks(em_setup *s);


/* Frees the environment, isolate and loop. The scope must NOT be entered by
 * anyone. Loop thread. */
void em_setup_destroy(em_setup *s);

/* Enters and leaves the V8 scopes of the isolate: the V8 half of taking the
 * Node lock. Enter on the thread that then owns the Node lock; exit on the same
 * thread in reverse order. */
void em_scope_enter(em_setup *s, em_scope *scope);
void em_scope_exit(em_scope *scope);
/* em_scope_enter for a thread whose parked lock (below) is locked: a handle
 * scope (the park keeps the isolate and the context entered). */
void em_scope_enter_locked(em_setup *s, em_scope *scope);

/* A strong handle on a JS value that C keeps (a primitive too, unlike a
 * napi_ref on Node 18). new and get: Node lock held (get in a handle scope);
 * free: Node lock held, the isolate alive. */
typedef struct em_global em_global;
em_global *em_global_new(napi_value value);
napi_value em_global_get(em_global *g);
void em_global_free(em_global *g);
/* The internalized JS string of `len` Latin-1 characters (what property
 * lookups compare by identity). Node lock held. Returns 0, or -1. */
int em_internalized_latin1(const char *chars, size_t len, napi_value *out);

/* napi_typeof, with V8's own checks (no Node-API call): what every value
 * converted to Python asks first. Any value of the current scope. */
napi_valuetype em_typeof(napi_value value);
/* The value of a JS number (em_typeof gave napi_number). */
double em_number_value(napi_value value);

/* fn.call(recv, ...argv) straight through V8 (napi_call_function without
 * its bookkeeping): returns 0 with *result, or -1 with what it threw in
 * *thrown (NULL: nothing, or a termination). Node lock held, in a handle and
 * context scope. */
int em_call(napi_value recv, napi_value fn, size_t argc, const napi_value *argv,
            napi_value *result, napi_value *thrown);

/* A thread's V8 lock of one isolate, kept between its calls (v8::Locker,
 * then a v8::Unlocker while parked) with a handle scope and the context
 * entered: taking it back costs next to nothing while no other thread took
 * the isolate meanwhile. All on the owning thread, under the Node lock's
 * mutex, except where said. em_park_new returns it locked (NULL when out of
 * memory); em_park_unlock parks it, em_park_lock takes it back.
 * em_park_holds_entry: the park keeps the isolate entered too, as the
 * thread's current isolate (taken, by new or lock, from no isolate); it then
 * frees only where em_park_can_free says so (parked, the thread in no other
 * isolate's scopes).
 * em_park_free (parked) destroys it, with the isolate alive.
 * em_park_drop_entry pops the park's entry, with env->mutex held: on the
 * park's thread in no other isolate's scopes, before it enters another
 * isolate; or by the teardown's thread (in no isolate), the park then being
 * only forgotten.
 * em_park_forget frees a park whose isolate was disposed (or whose thread
 * ended), without touching V8: any thread. */
typedef struct em_park em_park;
em_park *em_park_new(em_setup *s);
int em_park_holds_entry(const em_park *p);
void em_park_lock(em_park *p);
void em_park_unlock(em_park *p);
int em_park_can_free(const em_park *p);
void em_park_free(em_park *p);
void em_park_drop_entry(em_park *p);
void em_park_forget(em_park *p);
/* For a thread whose park held the entry of an isolate disposed since: the
 * teardown's thread (in no isolate) pushes one entry of the anchor isolate
 * (returns 0, or -1: none could be made), which that thread pops later, before
 * anything else of V8, leaving it in no isolate. */
int em_anchor_push(void);
void em_anchor_pop(void);

/* The V8 identity hash of an object value (stable for its lifetime; not
 * unique). Node lock held. Returns 0 for non-objects. */
uint32_t em_identity_hash(napi_value value);

/* The memory behind an ArrayBuffer or an ArrayBuffer view (typed array,
 * DataView), kept alive while the hold lives: after the buffer is transferred
 * or collected, and after the isolate is gone. em_hold_memory: Node lock
 * held; returns NULL when value has no memory (or on allocation failure).
 * em_release_memory: any thread. */
typedef struct em_memory_hold em_memory_hold;
em_memory_hold *em_hold_memory(napi_value value);
void em_release_memory(em_memory_hold *hold);

/* A token: a SharedArrayBuffer of length 0 whose backing store carries
 * `data`. Structured clone (postMessage) passes a SharedArrayBuffer by
 * reference, so the token's copies in every isolate, and in messages not yet
 * received, share that one backing store; release(data, 0, hint) runs once
 * the last of them is gone, on whichever thread drops it (a V8 background
 * thread, a thread tearing down an isolate or a message), with whatever locks
 * that thread holds: it must not block or call into V8 or Python. Node lock
 * held. Sets *out and returns 0, or returns -1 when no isolate is entered
 * (nothing made: release will not run). */
typedef void (*em_token_release)(void *data, size_t length, void *hint);
int em_token_new(void *data, em_token_release release, void *hint, napi_value *out);
/* The data pointer of a SharedArrayBuffer's backing store (a token's `data`,
 * or another buffer's memory: callers check it is one of theirs), or NULL
 * when value is not a SharedArrayBuffer. Node lock held. */
void *em_token_data(napi_value value);

/* The state of a native Promise (or of an instance of a subclass), which
 * Node-API cannot read: EM_PROMISE_FULFILLED with its value in *result (in
 * the current handle scope), EM_PROMISE_PENDING or EM_PROMISE_REJECTED, or
 * EM_PROMISE_NONE when value is no Promise. Calls no JS. Node lock held. */
typedef enum {
    EM_PROMISE_NONE = 0,
    EM_PROMISE_PENDING,
    EM_PROMISE_FULFILLED,
    EM_PROMISE_REJECTED,
} em_promise_state;
em_promise_state em_promise_settled(napi_value value, napi_value *result);

/* The longest string V8 can make, in UTF-16 code units. */
size_t em_max_string_length(void);

/* Heap statistics, for tests and benchmarks. Node lock held. */
size_t em_heap_used(em_setup *s);

#ifdef __cplusplus
}
#endif

#endif
