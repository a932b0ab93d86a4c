// embed.cc - the only C++ in pymport_py: Node's embedder API behind embed.h.
//
// Lifecycle order follows Node's test/embedding/embedtest.cc: process init once,
// one CommonEnvironmentSetup per environment, LoadEnvironment with a main
// script, node::Stop, then the setup's destructor (which takes its own Locker
// and frees environment, isolate and loop).

#include "embed.h"

#include <node.h>
#include <uv.h>
#include <v8.h>

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace {

// Process-wide: Node's per-process state (platform, V8, OpenSSL, ICU) exists
// once per process and cannot be initialised again, even after teardown.
// InitializeOncePerProcess returns a unique_ptr up to Node 22 and a shared_ptr
// from Node 24 on; a shared_ptr takes either.
std::once_flag process_once;
std::shared_ptr<node::InitializationResult> process_init;
std::string process_error;

#if NODE_MAJOR_VERSION >= EM_SNAPSHOT_MIN_MAJOR
// The startup snapshot that the node binary itself starts from: environments
// made from it skip running Node's bootstrap JavaScript. Every isolate of a
// process must come from the same snapshot, and it must outlive them: set
// once at process init, kept until the process ends.
node::EmbedderSnapshotData::Pointer process_snapshot;
#endif

void put_error(char *buf, size_t len, const std::string &msg) {
    if (buf && len) snprintf(buf, len, "%s", msg.c_str());
}

// The scopes that the owner of the Node lock keeps entered. Member order is
// construction order: the HandleScope must exist before the context handle.
// V8's default stack limit for a thread is the stack pointer at its first
// lock minus --stack-size (984 KiB), which is past the end of a smaller stack
// (threading.stack_size(512 * 1024)): deep recursion then overflows the real
// stack instead of throwing RangeError. On such a thread the limit is set from
// the thread's real stack bounds, each time it takes the lock (V8 keeps a
// limit per thread and isolate).
constexpr uintptr_t kV8DefaultStack = 984 * 1024;
// Left below the limit for what runs without V8's checks: Python called from
// JS, V8's own C++ and the RangeError itself.
constexpr uintptr_t kStackReserve = 160 * 1024;

// The lowest address of the calling thread's stack, or 0 when unknown.
static uintptr_t thread_stack_low() {
    static thread_local uintptr_t low = 1;  // 1: not looked up yet
    if (low == 1) {
        low = 0;
        pthread_attr_t attr;
        void *addr;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &addr, &size) == 0) low = reinterpret_cast<uintptr_t>(addr);
            pthread_attr_destroy(&attr);
        }
    }
    return low;
}

static void fit_stack_limit(v8::Isolate *isolate) {
    uintptr_t low = thread_stack_low();
    uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    if (!low || here < low + kStackReserve) return;
    if (here - low < kV8DefaultStack + kStackReserve) isolate->SetStackLimit(low + kStackReserve);
}

struct InnerScopes {
    v8::Isolate::Scope isolate_scope;
    v8::HandleScope handle_scope;
    v8::Context::Scope context_scope;
    InnerScopes(v8::Isolate *isolate, node::CommonEnvironmentSetup *setup)
        : isolate_scope(isolate), handle_scope(isolate), context_scope(setup->context()) {
        fit_stack_limit(isolate);
    }
};
struct Scopes {
    v8::Locker locker;
    InnerScopes inner;
    Scopes(v8::Isolate *isolate, node::CommonEnvironmentSetup *setup)
        : locker(isolate), inner(isolate, setup) {}
};
// The em_scope's first byte says which it holds: the full scopes, or the
// handle scope of a call made with the thread's parked lock (em_park).
struct TaggedScopes {
    unsigned char with_locker;
    union {
        Scopes full;
        v8::HandleScope handles;
    };
    TaggedScopes() {}
    ~TaggedScopes() {}
};
static_assert(sizeof(TaggedScopes) <= EM_SCOPE_SIZE, "em_scope too small");
static_assert(alignof(TaggedScopes) <= 16, "em_scope alignment too small");

}  // namespace

struct em_setup {
    std::unique_ptr<node::CommonEnvironmentSetup> setup;  // set once
    void (*exit_fn)(void *, int) = nullptr;              // set once
    void *exit_data = nullptr;
    void (*heap_fn)(void *) = nullptr;                   // set once
    void *heap_data = nullptr;
};

namespace {

struct Interrupt {
    void (*fn)(void *);
    void *data;
};

void run_interrupt(v8::Isolate *, void *data) {
    std::unique_ptr<Interrupt> interrupt(static_cast<Interrupt *>(data));
    interrupt->fn(interrupt->data);
}

size_t near_heap_limit(void *data, size_t current, size_t initial) {
    auto *s = static_cast<em_setup *>(data);
    s->heap_fn(s->heap_data);
    s->setup->isolate()->TerminateExecution();
    // Room to unwind the terminated JS; restored once the heap shrinks.
    return current + initial / 2 + (64u << 20);
}

}  // namespace

extern "C" int em_process_init(char *errbuf, size_t errlen) {
    std::call_once(process_once, [] {
        // --experimental-vm-modules lets code run by pymport_py.eval (a
        // vm.Script, for script semantics) use import(); it warns only when
        // vm.Module itself is used.
        std::vector<std::string> args{"pymport_py", "--experimental-vm-modules"};
        auto flags = static_cast<node::ProcessInitializationFlags::Flags>(
            node::ProcessInitializationFlags::kNoDefaultSignalHandling |
            node::ProcessInitializationFlags::kNoStdioInitialization |
            node::ProcessInitializationFlags::kNoPrintHelpOrVersionOutput |
            node::ProcessInitializationFlags::kNoAdjustResourceLimits);
        auto result = node::InitializeOncePerProcess(args, flags);
        if (result->early_return() || result->platform() == nullptr) {
            process_error = "Node process initialisation failed";
            for (const auto &e : result->errors()) process_error += ": " + e;
            return;
        }
        process_init = std::move(result);
#if NODE_MAJOR_VERSION >= EM_SNAPSHOT_MIN_MAJOR
        const char *off = std::getenv("PYMPORT_NO_SNAPSHOT");
        if (!off || !*off || std::strcmp(off, "0") == 0)
            process_snapshot = node::EmbedderSnapshotData::BuiltinSnapshotData();
#endif
    });
    if (!process_init) {
        put_error(errbuf, errlen, process_error);
        return -1;
    }
    return 0;
}

extern "C" em_setup *em_setup_create(const char *const *argv, int argc,
                                     const char *const *exec_argv, int exec_argc,
                                     char *errbuf, size_t errlen) {
    if (!process_init) {
        put_error(errbuf, errlen, "Node is not initialised");
        return nullptr;
    }
    std::vector<std::string> args(argv, argv + argc);
    std::vector<std::string> exec_args(exec_argv, exec_argv + exec_argc);
    std::vector<std::string> errors;
    // Node's options (--enable-source-maps, --experimental-*) and V8's flags
    // (--expose-gc, --max-old-space-size) go through Node's own parser, as
    // `node` does with its command line. Both live in per-process state, which
    // an environment copies when it is created: parsing them now, before the
    // isolate exists, makes them take effect for it (and stay set for later
    // environments). V8 reads its flags without locks: with no options there
    // is nothing to set, and nothing is written while other isolates run.
    if (!exec_args.empty()) {
        std::vector<std::string> parse_args{args.empty() ? std::string("node") : args[0]};
        parse_args.insert(parse_args.end(), exec_args.begin(), exec_args.end());
        std::vector<std::string> parsed_exec_args;
        if (node::ProcessGlobalArgs(&parse_args, &parsed_exec_args, &errors,
                                    node::OptionEnvvarSettings::kDisallowedInEnvvar) != 0 ||
            parse_args.size() > 1) {
            std::string msg = EM_OPTIONS_ERROR;
            for (const auto &e : errors) msg += " " + e + ";";
            for (size_t i = 1; i < parse_args.size(); i++) msg += " not an option: " + parse_args[i] + ";";
            msg.pop_back();
            put_error(errbuf, errlen, msg);
            return nullptr;
        }
    }
    std::unique_ptr<node::CommonEnvironmentSetup> setup;
#if NODE_MAJOR_VERSION >= EM_SNAPSHOT_MIN_MAJOR
    if (process_snapshot)
        setup = node::CommonEnvironmentSetup::CreateFromSnapshot(
            process_init->platform(), &errors, process_snapshot.get(), args, exec_args,
            node::EnvironmentFlags::kOwnsProcessState);
    else
#endif
        setup = node::CommonEnvironmentSetup::Create(
            process_init->platform(), &errors, args, exec_args,
            node::EnvironmentFlags::kOwnsProcessState);
    if (!setup) {
        std::string msg = "cannot create a Node environment";
        for (const auto &e : errors) msg += ": " + e;
        put_error(errbuf, errlen, msg);
        return nullptr;
    }
    auto *s = new (std::nothrow) em_setup;
    if (!s) {
        put_error(errbuf, errlen, "out of memory");
        return nullptr;
    }
    s->setup = std::move(setup);
    return s;
}

extern "C" void em_undo_stack_size(const char *const *exec_argv, int exec_argc) {
    for (int i = 0; i < exec_argc; i++) {
        if (strncmp(exec_argv[i], "--stack-size", 12) == 0 || strncmp(exec_argv[i], "--stack_size", 12) == 0) {
            static const char reset[] = "--stack-size=984";  // V8's default on 64-bit
            v8::V8::SetFlagsFromString(reset, sizeof reset - 1);
            return;
        }
    }
}

extern "C" void em_setup_add_binding(em_setup *s, const char *name,
                                     napi_addon_register_func fn) {
    node::AddLinkedBinding(s->setup->env(), name, fn, NAPI_VERSION);
}

extern "C" void em_setup_on_exit(em_setup *s, void (*fn)(void *, int), void *data) {
    s->exit_fn = fn;
    s->exit_data = data;
    node::SetProcessExitHandler(s->setup->env(), [s](node::Environment *env, int code) {
        if (s->exit_fn) s->exit_fn(s->exit_data, code);
        node::Stop(env);
    });
}

extern "C" int em_setup_load(em_setup *s, const char *source, char *errbuf, size_t errlen) {
    v8::Isolate *isolate = s->setup->isolate();
    v8::TryCatch try_catch(isolate);
    v8::MaybeLocal<v8::Value> ret = node::LoadEnvironment(s->setup->env(), source);
    if (!ret.IsEmpty()) return 0;
    std::string msg = "the Node bootstrap failed";
    if (try_catch.HasCaught() && !try_catch.HasTerminated()) {
        v8::Local<v8::Value> exc = try_catch.Exception();
        v8::Local<v8::Value> stack;
        if (exc->IsObject() &&
            exc.As<v8::Object>()
                ->Get(s->setup->context(), v8::String::NewFromUtf8Literal(isolate, "stack"))
                .ToLocal(&stack) &&
            stack->IsString())
            exc = stack;
        v8::String::Utf8Value text(isolate, exc);
        if (*text) msg += std::string(": ") + *text;
    }
    put_error(errbuf, errlen, msg);
    return -1;
}

extern "C" int em_uses_snapshot(void) {
#if NODE_MAJOR_VERSION >= EM_SNAPSHOT_MIN_MAJOR
    return process_snapshot ? 1 : 0;
#else
    return 0;
#endif
}

extern "C" struct uv_loop_s *em_setup_loop(em_setup *s) { return s->setup->event_loop(); }

extern "C" void em_setup_stop(em_setup *s) { node::Stop(s->setup->env()); }

extern "C" void em_setup_terminate(em_setup *s) { s->setup->isolate()->TerminateExecution(); }

extern "C" void em_setup_cancel_terminate(em_setup *s) {
    s->setup->isolate()->CancelTerminateExecution();
}


extern "C" void em_setup_request_interrupt(em_setup *s, void (*fn)(void *), void *data) {
    auto *interrupt = new (std::nothrow) Interrupt{fn, data};
    if (interrupt) s->setup->isolate()->RequestInterrupt(run_interrupt, interrupt);
}

extern "C" void em_setup_on_heap_limit(em_setup *s, void (*fn)(void *), void *data) {
    s->heap_fn = fn;
    s->heap_data = data;
    v8::Isolate *isolate = s->setup->isolate();
    isolate->AddNearHeapLimitCallback(near_heap_limit, s);
    isolate->AutomaticallyRestoreInitialHeapLimit(0.5);
}

extern "C" void em_setup_drain_tasks(em_setup *s) {
    process_init->platform()->DrainTasks(s->setup->isolate());
}


extern "C" void em_setup_destroy(em_setup *s) { delete s; }

extern "C" void em_scope_enter(em_setup *s, em_scope *scope) {
    auto *t = new (scope->opaque) TaggedScopes;
    t->with_locker = 1;
    new (&t->full) Scopes(s->setup->isolate(), s->setup.get());
}

extern "C" void em_scope_enter_locked(em_setup *s, em_scope *scope) {
    auto *t = new (scope->opaque) TaggedScopes;
    t->with_locker = 0;
    ::new (&t->handles) v8::HandleScope(s->setup->isolate());
}

extern "C" void em_scope_exit(em_scope *scope) {
    auto *t = reinterpret_cast<TaggedScopes *>(scope->opaque);
    if (t->with_locker) t->full.~Scopes();
    else t->handles.~HandleScope();
    t->~TaggedScopes();
}

// A parked lock: the thread's top-level Locker, kept while an Unlocker lets
// other threads in between its calls. V8 archives the thread's state lazily:
// when no other thread took the lock meanwhile, unlocking and locking again
// costs a mutex and a comparison, against allocating and freeing the thread's
// V8 resources (handle blocks, stack guard) with each top-level Locker.
// The park also keeps a HandleScope open and the context entered (both part
// of the thread state V8 archives), and, when the thread was in no isolate
// as it took the park, the isolate itself entered (`holds_entry`): entering
// an isolate costs a lookup under a mutex in V8's per-thread table, the most
// expensive part of taking the lock. Node 24's V8 (13.6) also needs the
// HandleScope: it makes handles while it restores a thread's state that
// another thread archived, and aborts without one ("Cannot create a handle
// without a HandleScope").
// An isolate entered by a thread is that thread's "current isolate" (V8
// thread locals) and sits on the isolate's entry stack, which must be empty
// when the isolate is disposed. A lock of the parked thread made inside
// another isolate's scopes (a call from JS of another environment) enters
// the isolate for that call only (`reentered`).
struct em_park {
    v8::Isolate *isolate;
    alignas(v8::Locker) unsigned char locker[sizeof(v8::Locker)];
    alignas(v8::Unlocker) unsigned char unlocker[sizeof(v8::Unlocker)];
    alignas(v8::HandleScope) unsigned char scope[sizeof(v8::HandleScope)];
    v8::Local<v8::Context> context;  // in `scope`
    bool unlocked;
    bool holds_entry;
    bool reentered;
};

// Enters the isolate unless it is the thread's current one already: from no
// isolate the entry stays (the thread's current isolate from then on), from
// inside another isolate's scopes it is for this call only.
static void em_park_enter(em_park *p) {
    v8::Isolate *current = v8::Isolate::TryGetCurrent();
    p->reentered = false;
    if (current == p->isolate) return;
    p->isolate->Enter();
    if (current) p->reentered = true;
    else p->holds_entry = true;
}

extern "C" em_park *em_park_new(em_setup *s) {
    auto *p = new (std::nothrow) em_park;
    if (!p) return nullptr;
    p->isolate = s->setup->isolate();
    p->holds_entry = false;
    new (p->locker) v8::Locker(p->isolate);
    em_park_enter(p);
    fit_stack_limit(p->isolate);
    ::new (p->scope) v8::HandleScope(p->isolate);
    p->context = s->setup->context();
    p->context->Enter();
    p->unlocked = false;
    return p;
}

extern "C" int em_park_holds_entry(const em_park *p) { return p->holds_entry; }

extern "C" void em_park_lock(em_park *p) {
    reinterpret_cast<v8::Unlocker *>(p->unlocker)->~Unlocker();
    p->unlocked = false;
    em_park_enter(p);
    // A termination meant for an earlier call that reached this thread's
    // state after that call ended must not stop the next one.
    if (p->isolate->IsExecutionTerminating()) p->isolate->CancelTerminateExecution();
}

extern "C" void em_park_unlock(em_park *p) {
    if (p->reentered) p->isolate->Exit();
    p->reentered = false;
    new (p->unlocker) v8::Unlocker(p->isolate);
    p->unlocked = true;
}

extern "C" int em_park_can_free(const em_park *p) {
    return !p->holds_entry || v8::Isolate::TryGetCurrent() == p->isolate;
}

extern "C" void em_park_free(em_park *p) {
    if (!p) return;
    if (p->unlocked) em_park_lock(p);
    p->context->Exit();
    reinterpret_cast<v8::HandleScope *>(p->scope)->~HandleScope();
    if (p->reentered) p->isolate->Exit();
    if (p->holds_entry) p->isolate->Exit();
    reinterpret_cast<v8::Locker *>(p->locker)->~Locker();
    delete p;
}

extern "C" void em_park_drop_entry(em_park *p) {
    // The entry is the only one on the isolate's stack (every other holder
    // of the lock left its scopes), made by a thread in no isolate: popping
    // it leaves the calling thread in no isolate (the park's own thread, or
    // the teardown's, in no isolate already).
    if (p->holds_entry) p->isolate->Exit();
    p->holds_entry = false;
}

// The anchor: an isolate that lives as long as the process and never runs
// anything, made the first time a parked thread's isolate goes away under it.
// That thread's V8 thread locals still name the disposed isolate, and the
// only way V8 offers to change them is to exit an isolate, on that thread:
// each forgotten entry leaves one entry on the anchor's stack (made by the
// teardown's thread, which was in no isolate), which the parked thread exits
// later, ending up in no isolate.
namespace {
std::mutex anchor_mutex;
v8::Isolate *anchor = nullptr;
}  // namespace

extern "C" int em_anchor_push(void) {
    // From a thread in an isolate, Enter would only count one more entry of
    // that thread's, which an exit on another thread would not undo.
    if (v8::Isolate::TryGetCurrent() != nullptr) return -1;
    std::lock_guard<std::mutex> lock(anchor_mutex);
    if (!anchor) {
        static uv_loop_t loop;  // registered with the platform, never run
        static bool loop_ready = false;
        static std::unique_ptr<node::ArrayBufferAllocator> allocator;
        if (!loop_ready && uv_loop_init(&loop) != 0) return -1;
        loop_ready = true;
        if (!allocator) allocator = node::ArrayBufferAllocator::Create();
#if NODE_MAJOR_VERSION >= EM_SNAPSHOT_MIN_MAJOR
        anchor = node::NewIsolate(allocator.get(), &loop, process_init->platform(),
                                  process_snapshot.get());
#else
        anchor = node::NewIsolate(allocator.get(), &loop, process_init->platform());
#endif
        if (!anchor) return -1;
    }
    anchor->Enter();
    return 0;
}

extern "C" void em_anchor_pop(void) {
    std::lock_guard<std::mutex> lock(anchor_mutex);
    anchor->Exit();
}

extern "C" void em_park_forget(em_park *p) { delete p; }

// napi_value is a v8::Local<v8::Value> in Node's implementation
// (v8impl::V8LocalValueFromJsValue copies it the same way).
static v8::Local<v8::Value> em_local(napi_value value) {
    v8::Local<v8::Value> local;
    static_assert(sizeof(local) == sizeof(value), "napi_value is not a Local");
    memcpy(static_cast<void *>(&local), &value, sizeof(value));
    return local;
}

struct em_memory_hold {
    std::shared_ptr<v8::BackingStore> store;
};

extern "C" em_memory_hold *em_hold_memory(napi_value value) {
    v8::Local<v8::Value> local = em_local(value);
    v8::Local<v8::ArrayBuffer> buffer;
    if (local.IsEmpty()) return nullptr;
    if (local->IsArrayBuffer()) {
        buffer = local.As<v8::ArrayBuffer>();
    } else if (local->IsArrayBufferView()) {
        buffer = local.As<v8::ArrayBufferView>()->Buffer();
    } else {
        return nullptr;
    }
    return new (std::nothrow) em_memory_hold{buffer->GetBackingStore()};
}

extern "C" void em_release_memory(em_memory_hold *hold) { delete hold; }

extern "C" uint32_t em_identity_hash(napi_value value) {
    v8::Local<v8::Value> local = em_local(value);
    if (local.IsEmpty() || !local->IsObject()) return 0;
    return static_cast<uint32_t>(local.As<v8::Object>()->GetIdentityHash());
}

// The other way: a Local made here, as the napi_value Node-API expects
// (v8impl::JsValueFromV8LocalValue). It lives in the current handle scope,
// which is the calling Node-API callback's.
static napi_value em_napi_value(v8::Local<v8::Value> local) {
    napi_value value;
    static_assert(sizeof(local) == sizeof(value), "napi_value is not a Local");
    memcpy(static_cast<void *>(&value), &local, sizeof(value));
    return value;
}

extern "C" int em_token_new(void *data, em_token_release release, void *hint, napi_value *out) {
    v8::Isolate *isolate = v8::Isolate::GetCurrent();
    if (!isolate || !data) return -1;
    // Length 0: JS can neither read nor write the memory behind `data`.
    // From here V8 owns `data` (it aborts the process when out of memory).
    std::shared_ptr<v8::BackingStore> store =
        v8::SharedArrayBuffer::NewBackingStore(data, 0, release, hint);
    *out = em_napi_value(v8::SharedArrayBuffer::New(isolate, std::move(store)));
    return 0;
}

extern "C" void *em_token_data(napi_value value) {
    v8::Local<v8::Value> local = em_local(value);
    if (local.IsEmpty() || !local->IsSharedArrayBuffer()) return nullptr;
    return local.As<v8::SharedArrayBuffer>()->GetBackingStore()->Data();
}

extern "C" em_promise_state em_promise_settled(napi_value value, napi_value *result) {
    v8::Local<v8::Value> local = em_local(value);
    if (local.IsEmpty() || !local->IsPromise()) return EM_PROMISE_NONE;
    v8::Local<v8::Promise> promise = local.As<v8::Promise>();
    switch (promise->State()) {
    case v8::Promise::kFulfilled:
        *result = em_napi_value(promise->Result());
        return EM_PROMISE_FULFILLED;
    case v8::Promise::kRejected:
        return EM_PROMISE_REJECTED;
    default:
        return EM_PROMISE_PENDING;
    }
}

extern "C" size_t em_max_string_length(void) { return static_cast<size_t>(v8::String::kMaxLength); }

extern "C" size_t em_heap_used(em_setup *s) {
    v8::HeapStatistics stats;
    s->setup->isolate()->GetHeapStatistics(&stats);
    return stats.used_heap_size();
}

struct em_global {
    v8::Isolate *isolate;
    v8::Global<v8::Value> value;
};

extern "C" em_global *em_global_new(napi_value value) {
    v8::Isolate *isolate = v8::Isolate::GetCurrent();
    auto *g = new (std::nothrow) em_global;
    if (!g) return nullptr;
    g->isolate = isolate;
    g->value.Reset(isolate, em_local(value));
    return g;
}

extern "C" napi_value em_global_get(em_global *g) {
    return em_napi_value(v8::Local<v8::Value>::New(g->isolate, g->value));
}

extern "C" void em_global_free(em_global *g) {
    if (!g) return;
    g->value.Reset();
    delete g;
}

extern "C" int em_internalized_latin1(const char *chars, size_t len, napi_value *out) {
    v8::Local<v8::String> str;
    if (!v8::String::NewFromOneByte(v8::Isolate::GetCurrent(),
                                    reinterpret_cast<const uint8_t *>(chars),
                                    v8::NewStringType::kInternalized, static_cast<int>(len))
             .ToLocal(&str))
        return -1;
    *out = em_napi_value(str);
    return 0;
}

extern "C" napi_valuetype em_typeof(napi_value value) {
    v8::Local<v8::Value> v = em_local(value);
    if (v->IsUndefined()) return napi_undefined;
    if (v->IsNull()) return napi_null;
    if (v->IsString()) return napi_string;
    if (v->IsNumber()) return napi_number;
    if (v->IsFunction()) return napi_function;
    if (v->IsExternal()) return napi_external;  // an object to V8: ask first
    if (v->IsObject()) return napi_object;
    if (v->IsBoolean()) return napi_boolean;
    if (v->IsBigInt()) return napi_bigint;
    return napi_symbol;
}

extern "C" double em_number_value(napi_value value) {
    return em_local(value).As<v8::Number>()->Value();
}

extern "C" int em_call(napi_value recv, napi_value fn, size_t argc, const napi_value *argv,
                       napi_value *result, napi_value *thrown) {
    v8::Isolate *isolate = v8::Isolate::GetCurrent();
    v8::TryCatch try_catch(isolate);
    static_assert(sizeof(v8::Local<v8::Value>) == sizeof(napi_value), "napi_value is not a Local");
    auto *args = reinterpret_cast<v8::Local<v8::Value> *>(const_cast<napi_value *>(argv));
    v8::Local<v8::Value> out;
    if (em_local(fn).As<v8::Function>()
            ->Call(isolate->GetCurrentContext(), em_local(recv), static_cast<int>(argc), args)
            .ToLocal(&out)) {
        *result = em_napi_value(out);
        return 0;
    }
    *thrown = try_catch.HasCaught() ? em_napi_value(try_catch.Exception()) : nullptr;
    return -1;
}
