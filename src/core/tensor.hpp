// Tensor (amphora/tensor.hpp, public) with what libamphora's code uses alongside it: fail()
// (core/error.hpp) and visit_dtype (core/dtype.hpp).
#pragma once

#include "amphora/tensor.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
