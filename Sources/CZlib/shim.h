#ifndef PGSINK_CZLIB_SHIM_H
#define PGSINK_CZLIB_SHIM_H
#include <zlib.h>
#endif
