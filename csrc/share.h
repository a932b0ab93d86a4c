/* share.h - Python objects sent between the threads of JavaScript without a
 * copy (sh_): the tokens behind pymport's share() and fromShared(). */
#ifndef PYMPORT_SHARE_H
#define PYMPORT_SHARE_H

#include "runtime.h"

/* Adds pyShare and pyFromShared to the binding. Node lock held. */
napi_status sh_define_binding(napi_env napi, napi_value exports);

#endif
