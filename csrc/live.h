/* live.h - live containers (lv_): pymport_py.live(x), a Python list or dict
 * that JavaScript uses with plain JS syntax, without a copy. */
#ifndef PYMPORT_LIVE_H
#define PYMPORT_LIVE_H

#include "runtime.h"

/* Adds the type pymport_py.live to the module (st->LiveType). Returns 0 or -1. */
int lv_setup_type(PyObject *module);
/* True if obj is a pymport_py.live. */
int lv_check(mod_state *st, PyObject *obj);
/* The live Proxy of the container that the pymport_py.live `marker` holds,
 * the same JS object while it is alive. Node lock and GIL held. Returns 0, or
 * -1 with a Python exception. */
int lv_to_js(rt_env *env, PyObject *marker, napi_value *out);
/* Makes the live Proxy of the container obj (a mapping when `mapping`; else a
 * sequence), a new JS object: pyproxy.c's pyp_wrap_as keeps it as obj's
 * proxy. Node lock and GIL held. Returns 0, or -1 with a Python exception. */
int lv_new_proxy(rt_env *env, PyObject *obj, int mapping, napi_value *out);
/* Adds liveFunctions() to the binding. Node lock held. */
napi_status lv_define_binding(napi_env napi, napi_value exports);

#endif
