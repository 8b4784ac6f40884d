#ifndef PGSINK_CSNAPPY_SHIM_H
#define PGSINK_CSNAPPY_SHIM_H
#include <snappy-c.h>
#endif
