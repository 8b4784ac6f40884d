#ifndef PGSINK_CLIBPQ_SHIM_H
#define PGSINK_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
