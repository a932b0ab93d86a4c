/* binding.h - the linked binding `pymport_py` (bd_), loaded by each
 * environment's bootstrap. */
#ifndef PYMPORT_BINDING_H
#define PYMPORT_BINDING_H

#include "runtime.h"

/* The linked binding's register function (em_setup_add_binding): runs during
 * an environment's bootstrap, on its thread. */
napi_value bd_register(napi_env napi, napi_value exports);
/* Runs the bootstrap of env (js/bootstrap.js, which loads the binding).
 * Loop thread, Node lock held. Returns 0, or -1 with the reason in `error`. */
int bd_load(rt_env *env, char *error, size_t size);
/* Borrowed: the environment of napi (its instance data, set by bd_register).
 * Node lock held. */
rt_env *bd_env_of(napi_env napi);

#endif
