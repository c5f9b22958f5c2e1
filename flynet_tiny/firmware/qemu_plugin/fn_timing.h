/* Cycle model of a Cortex-M4 or Cortex-M7 core and its memory, driven by the executed
 * instruction stream (fn_timing.c; docs/latency-model.md gives every number and its source). */
#ifndef FN_TIMING_H
#define FN_TIMING_H

#include <stdint.h>

#include "fn_thumb_decode.h"

enum core_model { CORE_M4 = 4, CORE_M7 = 7 };

/* How a memory region is reached. FLASH: through the flash accelerator (M4: the ST ART
 * caches) or the L1 caches (M7), `miss_cycles` more than a hit on a miss. RAM: no wait
 * states on the M4; through the L1 D-cache on the M7, `miss_cycles` on a miss. TCM: never
 * cached, no wait states. */
enum mem_path { PATH_FLASH, PATH_RAM, PATH_TCM };

typedef struct {
    uint32_t lo, hi; /* [lo, hi) */
    uint8_t path;
    uint16_t miss_cycles;
} mem_region_t;

typedef struct {
    uint32_t sets, ways, line_bytes;
} cache_geometry_t;

#define FN_MAX_REGIONS 16

typedef struct {
    int core;
    int prefetch; /* sequential next-line instruction prefetch */
    cache_geometry_t icache, dcache;
    mem_region_t regions[FN_MAX_REGIONS];
    int n_regions;
} timing_config_t;

typedef struct {
    uint32_t addr;
    uint8_t is_store;
} mem_access_t;

/* Cumulative cycle accounting; `cycles` is the issue cycle of the last timed instruction. */
typedef struct {
    uint64_t cycles;
    uint64_t interlock; /* waiting for an operand (load-use, address generation, multiply latency) */
    uint64_t branch;    /* pipeline refill after taken or mispredicted branches */
    uint64_t fetch;     /* instruction fetch from flash / memory behind a missing cache line */
    uint64_t memory;    /* data loads from flash / memory behind a missing cache line */
} timing_totals_t;

/* Returns 0, or -1 with a message on stderr when the configuration is unusable. */
int fn_timing_init(const timing_config_t *config);
/* One executed instruction: its decode, address, the address of the instruction executed
 * after it (tells a taken branch from a fall-through) and its data accesses. Returns the
 * cycle in which it issued. */
uint64_t fn_timing_step(const decoded_t *d, uint32_t pc, uint32_t next_pc, const mem_access_t *accesses,
                        int n_accesses);
void fn_timing_totals(timing_totals_t *out);

#endif
