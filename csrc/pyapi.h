/* pyapi.h - the Python operations behind pymport's JS API (see pyapi.c). */
#ifndef PYMPORT_PYAPI_H
#define PYMPORT_PYAPI_H

#include "runtime.h"

/* Adds pyimport, pyeval, pyGet, pyCall ... to the binding. Node lock held. */
napi_status pa_define_binding(napi_env napi, napi_value exports);

#endif
