#pragma once

#include <cstdint>

namespace psvc::bench {

/// Heap allocations made so far by this process (global operator new is replaced in
/// alloc_counter.cpp, linked into benchmark binaries only).
uint64_t AllocationCount();

}  // namespace psvc::bench
