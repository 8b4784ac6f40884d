#ifndef PGSINK_CZSTD_SHIM_H
#define PGSINK_CZSTD_SHIM_H
#include <zstd.h>
#endif
