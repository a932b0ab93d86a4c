/* foreign.h - environments of Node's worker_threads (fe_). */
#ifndef PYMPORT_FOREIGN_H
#define PYMPORT_FOREIGN_H

#include "runtime.h"

/* Keeps what a worker_thread's environment needs (the module, borrowed: every
 * environment stops at exit before it dies; the bootstrap path), from the
 * first environment made. GIL held. */
void fe_remember(PyObject *module, const char *bootstrap);
/* A Node worker_thread loads the binding: returns its new foreign environment,
 * or NULL (no exception) when pymport_py cannot serve it. Its thread; takes
 * the GIL. */
rt_env *fe_register_worker(napi_env napi);

#endif
