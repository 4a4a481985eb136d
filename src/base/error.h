// Error and Result<T> are part of the public API; internal code includes them from here.
#pragma once

#include "minnow/error.h"
