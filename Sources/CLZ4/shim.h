#ifndef PGSINK_CLZ4_SHIM_H
#define PGSINK_CLZ4_SHIM_H
#include <lz4.h>
#endif
