/* environment.h - the Python type Environment (see environment.c). */
#ifndef PYMPORT_ENVIRONMENT_H
#define PYMPORT_ENVIRONMENT_H

#include "runtime.h"

#include <structmember.h>

int env_setup_types(PyObject *module);

#endif
