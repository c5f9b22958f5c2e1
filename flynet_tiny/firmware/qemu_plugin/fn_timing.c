/* Cycle model of the executed instruction stream (see fn_timing.h).
 *
 * Each executed instruction gets an issue cycle: the earliest cycle its pipeline slot is
 * free, delayed until its operands are ready and its instruction bytes have arrived. It then
 * occupies the pipeline for its issue time (LDM: 1 + N on the M4), plus stalls for data from
 * slow memory and the refill after a taken or mispredicted branch. Register results become
 * ready a fixed latency after issue. The numbers, per core, and where each comes from are in
 * docs/latency-model.md; the per-core constants below carry a short source note.
 */
#include "fn_timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX2(a, b) ((a) > (b) ? (a) : (b))

/* ---- caches: set-associative, LRU ---- */

#define HINTS 256

typedef struct {
    cache_geometry_t g;
    uint32_t *tags;   /* line number + 1; 0 = empty */
    uint64_t *stamps; /* last use */
    uint64_t clock;
    uint32_t hint[HINTS]; /* where a line was last found (slot index): skips the search on a hit */
} cache_t;

static int cache_init(cache_t *c, cache_geometry_t g)
{
    c->g = g;
    c->clock = 0;
    if (g.sets == 0 || g.ways == 0 || g.line_bytes == 0) {
        c->tags = NULL, c->stamps = NULL;
        return 0;
    }
    c->tags = calloc((size_t)g.sets * g.ways, sizeof *c->tags);
    c->stamps = calloc((size_t)g.sets * g.ways, sizeof *c->stamps);
    return c->tags && c->stamps ? 0 : -1;
}

/* 1 on a hit; on a miss the line is filled (least recently used way replaced). */
static int cache_access(cache_t *c, uint32_t line)
{
    if (!c->tags)
        return 0;
    uint32_t set = line % c->g.sets;
    size_t base = (size_t)set * c->g.ways;
    uint32_t *hint = &c->hint[line % HINTS];
    ++c->clock;
    if (*hint >= base && *hint < base + c->g.ways && c->tags[*hint] == line + 1) {
        c->stamps[*hint] = c->clock;
        return 1;
    }
    size_t victim = base;
    for (size_t w = base; w < base + c->g.ways; ++w) {
        if (c->tags[w] == line + 1) {
            c->stamps[w] = c->clock;
            *hint = (uint32_t)w;
            return 1;
        }
        if (c->stamps[w] < c->stamps[victim])
            victim = w;
    }
    c->tags[victim] = line + 1;
    c->stamps[victim] = c->clock;
    *hint = (uint32_t)victim;
    return 0;
}

static int cache_holds(const cache_t *c, uint32_t line)
{
    if (!c->tags)
        return 0;
    uint32_t hint = c->hint[line % HINTS];
    if (c->tags[hint] == line + 1)
        return 1;
    const uint32_t *tags = c->tags + (size_t)(line % c->g.sets) * c->g.ways;
    for (uint32_t w = 0; w < c->g.ways; ++w)
        if (tags[w] == line + 1)
            return 1;
    return 0;
}

/* ---- state ---- */

static timing_config_t cfg;
static cache_t icache, dcache;
static timing_totals_t totals;

static uint64_t reg_ready[16];  /* cycle from which an execute-stage reader may use the register */
static uint64_t last_issue;     /* issue cycle of the previous timed instruction */
static uint64_t next_free;      /* first cycle after the previous instruction's issue time */
static int started;
static decoded_t prev;          /* previous timed instruction */
static int prev_pipelinable;    /* M4: the previous instruction lets a following LDR / STR pipeline */
static int slot_open;           /* M7: the previous instruction issued first in its cycle and takes a partner */
static int prev_was_16bit_alu;  /* M4: a following IT folds into it */
static int after_taken_branch;  /* M4: this instruction is the target of a taken branch */

static uint32_t fetch_line = UINT32_MAX; /* instruction line being executed */
static uint32_t prefetch_line = UINT32_MAX;
static uint64_t prefetch_arrival;
static uint64_t flash_free;              /* flash interface busy until */
static const mem_region_t *last_region;

/* M7 branch predictor: a branch target address cache with 2-bit counters; branches it does
 * not hold are predicted statically in decode (backward taken, forward not taken). */
#define BTAC_ENTRIES 64
typedef struct {
    uint32_t pc_plus1;
    uint32_t target;
    uint8_t counter; /* 0..3, >= 2 predicts taken */
} btac_entry_t;
static btac_entry_t btac[BTAC_ENTRIES];

/* ---- per-core constants (docs/latency-model.md) ---- */

/* Cortex-M4 TRM (DDI 0439) table 3-1 and 3.3.2: a taken branch costs 1 + P, P the refill;
 * P = 2 for branches resolved in execute and 3 for loads to PC and table branches ("three
 * cycles for the pipeline reload"); +1 when the target is a 32-bit instruction that is not
 * word aligned. */
#define M4_REFILL 2
#define M4_REFILL_LOAD 3
#define M4_DIVIDE 7 /* SDIV / UDIV take 2..12 cycles with the operands, which the plugin cannot see */
/* Cortex-M7: mispredict cost 6 cycles (Arm's LLVM scheduling model: "forward branches is 6");
 * a taken branch that the BTAC does not hold is redirected by the decoder: 2 bubbles. */
#define M7_MISPREDICT 6
#define M7_DECODE_REDIRECT 2
#define M7_DIVIDE 7

int fn_timing_init(const timing_config_t *config)
{
    cfg = *config;
    memset(&totals, 0, sizeof totals);
    memset(reg_ready, 0, sizeof reg_ready);
    memset(btac, 0, sizeof btac);
    started = 0;
    if (cfg.core != CORE_M4 && cfg.core != CORE_M7) {
        fprintf(stderr, "fn_insn_count: unknown core model %d (4 or 7)\n", cfg.core);
        return -1;
    }
    if (cache_init(&icache, cfg.icache) || cache_init(&dcache, cfg.dcache)) {
        fprintf(stderr, "fn_insn_count: out of memory for the cache model\n");
        return -1;
    }
    return 0;
}

void fn_timing_totals(timing_totals_t *out)
{
    *out = totals;
}

static const mem_region_t *region_of(uint32_t addr)
{
    if (last_region && addr >= last_region->lo && addr < last_region->hi)
        return last_region;
    for (int i = 0; i < cfg.n_regions; ++i)
        if (addr >= cfg.regions[i].lo && addr < cfg.regions[i].hi)
            return last_region = &cfg.regions[i];
    return NULL; /* peripherals, unmapped: no wait states modelled */
}

/* The M4's ART sits in front of the flash only; the M7's L1 caches cover everything but TCM. */
static int is_cached(const mem_region_t *r)
{
    if (!r)
        return 0;
    return cfg.core == CORE_M4 ? r->path == PATH_FLASH : r->path != PATH_TCM;
}

/* ---- instruction fetch ---- */

/* A new instruction line is needed by the instruction issuing at `c`: the stall until its
 * bytes are there. A line that misses is requested two cycles ahead of issue (fetch and
 * decode stages), so a miss costs `miss_cycles` when the flash interface is free. */
static uint64_t enter_line(uint32_t line, const mem_region_t *r, uint64_t c)
{
    uint64_t arrival;
    int hit = cache_access(&icache, line);
    if (hit) {
        arrival = 0;
    } else if (line == prefetch_line) {
        arrival = prefetch_arrival;
    } else {
        uint64_t request = MAX2(c >= 2 ? c - 2 : 0, flash_free);
        arrival = request + 1 + r->miss_cycles;
        flash_free = arrival;
    }
    prefetch_line = UINT32_MAX;
    if (cfg.prefetch && !cache_holds(&icache, line + 1)) {
        uint64_t request = MAX2(hit ? (c >= 1 ? c - 1 : 0) : arrival, flash_free);
        prefetch_line = line + 1;
        prefetch_arrival = request + 1 + r->miss_cycles;
        flash_free = prefetch_arrival;
    }
    return arrival + 1 > c ? arrival + 1 - c : 0;
}

static uint64_t fetch_stall(uint32_t pc, int size, uint64_t c)
{
    const mem_region_t *r = region_of(pc);
    if (!is_cached(r) || !icache.tags)
        return 0;
    uint64_t stall = 0;
    uint32_t first = pc / icache.g.line_bytes, last = (pc + (uint32_t)size - 1) / icache.g.line_bytes;
    for (uint32_t line = first; line <= last; ++line) {
        if (line == fetch_line)
            continue;
        fetch_line = line;
        stall += enter_line(line, r, c + stall);
    }
    return stall;
}

/* ---- data memory ---- */

static uint64_t data_stall(const mem_access_t *acc, int n)
{
    uint64_t stall = 0;
    for (int i = 0; i < n; ++i) {
        const mem_region_t *r = region_of(acc[i].addr);
        if (!r)
            continue;
        if (!is_cached(r)) {
            if (!acc[i].is_store)
                stall += r->miss_cycles;
            continue;
        }
        int hit = cache_access(&dcache, acc[i].addr / (dcache.tags ? dcache.g.line_bytes : 1));
        /* Stores retire through the write buffer; only loads wait for a line. */
        if (!hit && !acc[i].is_store)
            stall += r->miss_cycles;
    }
    return stall;
}

/* ---- branch prediction (M7) ---- */

static int is_branch(int op)
{
    return op == T_BRANCH || op == T_BRANCH_COND || op == T_BRANCH_IND || op == T_LOAD_PC || op == T_TABLE_BRANCH;
}

/* Extra cycles for this branch on the M7, and the predictor's update. */
static uint64_t m7_branch_cost(const decoded_t *d, uint32_t pc, int taken, uint32_t next_pc)
{
    btac_entry_t *e = &btac[(pc >> 1) % BTAC_ENTRIES];
    int held = e->pc_plus1 == pc + 1;
    int predict_taken, predicted_target_ok;
    if (held) {
        predict_taken = e->counter >= 2;
        predicted_target_ok = e->target == next_pc;
    } else if (d->op == T_BRANCH_COND) {
        predict_taken = d->target < pc; /* static: backward taken */
        predicted_target_ok = 1;
    } else {
        predict_taken = d->op == T_BRANCH; /* direct: decoder redirects; indirect: unknown */
        predicted_target_ok = d->op == T_BRANCH;
    }
    uint64_t cost;
    if (taken != predict_taken || (taken && !predicted_target_ok))
        cost = M7_MISPREDICT;
    else if (taken && !held)
        cost = M7_DECODE_REDIRECT;
    else
        cost = 0;
    if (taken) {
        if (!held) {
            e->pc_plus1 = pc + 1;
            e->counter = 2;
        } else if (e->counter < 3) {
            e->counter++;
        }
        e->target = next_pc;
    } else if (held && e->counter > 0) {
        e->counter--;
    }
    return cost;
}

/* ---- operand readiness ---- */

static uint64_t ready_for(unsigned regs, int64_t advance)
{
    uint64_t t = 0;
    for (; regs; regs &= regs - 1) {
        uint64_t v = reg_ready[__builtin_ctz(regs)];
        if (v > t)
            t = v;
    }
    if (!t)
        return 0;
    return (int64_t)t + advance > 0 ? (uint64_t)((int64_t)t + advance) : 0;
}

static void write_regs(unsigned regs, uint64_t when)
{
    for (; regs; regs &= regs - 1)
        reg_ready[__builtin_ctz(regs)] = when;
}

static int is_memory_op(int op)
{
    switch (op) {
    case T_LOAD: case T_LOAD_NARROW: case T_STORE: case T_LOAD_DUAL: case T_STORE_DUAL: case T_LOAD_MULTI:
    case T_STORE_MULTI: case T_LOAD_PC: case T_FP_LOAD: case T_FP_STORE: case T_FP_LOAD_MULTI:
    case T_FP_STORE_MULTI:
        return 1;
    default:
        return 0;
    }
}

/* ---- Cortex-M4 (single issue, 3-stage pipeline) ---- */

static uint64_t m4_issue_time(const decoded_t *d, int pipelined)
{
    int n = d->transfers;
    switch (d->op) {
    case T_DIV: return M4_DIVIDE;
    case T_LOAD: case T_LOAD_NARROW: return pipelined ? 1 : 2;
    /* STR with an immediate offset is one cycle (write buffer); with a register offset two,
     * unless it pipelines behind a load. */
    case T_STORE: return d->imm_offset || pipelined ? 1 : 2;
    case T_LOAD_DUAL: case T_STORE_DUAL: return 3;
    case T_LOAD_MULTI: case T_STORE_MULTI: case T_FP_LOAD_MULTI: case T_FP_STORE_MULTI: return 1 + (uint64_t)n;
    case T_LOAD_PC: return d->transfers ? 1 + (uint64_t)n : 2;
    case T_FP_LOAD: case T_FP_STORE: return 1 + (uint64_t)n;
    case T_TABLE_BRANCH: return 2;
    case T_FP_MAC: return 3;
    case T_FP_DIV: return 14;
    case T_BARRIER: case T_SYSTEM: return 2;
    default: return 1;
    }
}

static uint64_t m4_step(const decoded_t *d, uint32_t pc, uint32_t next_pc, const mem_access_t *acc, int n_acc)
{
    int taken = next_pc != pc + d->size;
    uint64_t c = next_free;
    uint64_t operands = MAX2(MAX2(ready_for(d->src | d->shifted, 0), ready_for(d->late, -1)),
                             ready_for(d->addr, 1)); /* address generation reads a cycle early */
    if (operands > c) {
        totals.interlock += operands - c;
        c = operands;
    }
    uint64_t fstall = fetch_stall(pc, d->size, c);
    totals.fetch += fstall;
    c += fstall;

    /* A load / store pipelines behind a load unless its address comes from that load. */
    int pipelined = prev_pipelinable && !(d->addr & prev.dst);
    uint64_t issue_time;
    if (d->op == T_IT && prev_was_16bit_alu)
        issue_time = 0; /* folded into the preceding 16-bit instruction */
    else
        issue_time = m4_issue_time(d, pipelined);
    uint64_t dstall = data_stall(acc, n_acc);
    totals.memory += dstall;

    uint64_t refill = 0;
    if (is_branch(d->op) && taken)
        refill = (d->op == T_LOAD_PC || d->op == T_TABLE_BRANCH) ? M4_REFILL_LOAD : M4_REFILL;
    if (after_taken_branch && d->size == 4 && (pc & 2)) {
        /* this branch target is a 32-bit instruction across two fetch words: one more fetch */
        totals.branch += 1;
        c += 1;
    }
    after_taken_branch = is_branch(d->op) && taken;
    totals.branch += refill;
    uint64_t done = c + issue_time + dstall;
    write_regs(d->dst & (uint16_t)~d->writeback, done > c ? done : c + 1);
    write_regs(d->writeback, c + 1); /* the address adder's result, not the loaded data */
    next_free = done + refill;
    prev_pipelinable = (d->op == T_LOAD || d->op == T_LOAD_NARROW) && n_acc > 0;
    prev_was_16bit_alu = d->size == 2 && (d->op == T_ALU || d->op == T_MUL);
    return c;
}

/* ---- Cortex-M7 (dual issue, 6-stage pipeline) ---- */

enum { U_ALU = 1, U_SHIFT = 2, U_LOAD = 4, U_STORE = 8, U_MAC = 16, U_BRANCH = 32, U_FP = 64,
       U_SINGLE = 128, U_SLOT0 = 256 };

/* Which units an instruction uses and its pairing limits (Arm's LLVM Cortex-M7 model:
 * two ALUs, one shifter per cycle, two load pipes, one store, one MAC, one branch, one FPU;
 * LDM / STM / LDRD / STRD / divides / system instructions issue alone; DSP data processing
 * only in the older slot). */
static unsigned m7_units(const decoded_t *d)
{
    switch (d->op) {
    case T_ALU: case T_IT: case T_NOP: return U_ALU;
    case T_ALU_SHIFT: return U_ALU | U_SHIFT;
    case T_SIMD: case T_SIMD_SLOW: return U_ALU | U_SHIFT | U_SLOT0;
    case T_MUL: case T_MAC: return U_MAC;
    case T_LOAD: case T_LOAD_NARROW: case T_FP_LOAD: return U_LOAD;
    case T_STORE: case T_FP_STORE: return U_STORE;
    case T_BRANCH: case T_BRANCH_COND: case T_BRANCH_IND: return U_BRANCH;
    case T_FP: case T_FP_MAC: return U_FP;
    default: return U_SINGLE;
    }
}

static int m7_pairs(const decoded_t *older, unsigned ou, const decoded_t *younger, unsigned yu)
{
    if ((ou | yu) & U_SINGLE || yu & U_SLOT0)
        return 0;
    if (ou & yu & (U_SHIFT | U_MAC | U_STORE | U_BRANCH | U_FP))
        return 0;
    if (older->dst & younger->dst)
        return 0;
    return 1;
}

static uint64_t m7_issue_time(const decoded_t *d)
{
    int n = d->transfers;
    switch (d->op) {
    case T_DIV: return M7_DIVIDE;
    case T_LOAD_MULTI: case T_STORE_MULTI: case T_FP_LOAD_MULTI: case T_FP_STORE_MULTI: case T_LOAD_PC:
        return n > 2 ? (uint64_t)(n + 1) / 2 : 1; /* two registers per cycle over the 64-bit path */
    case T_TABLE_BRANCH: case T_BARRIER: case T_SYSTEM: return 2;
    case T_FP_DIV: return 14;
    default: return 1;
    }
}

static uint64_t m7_latency(const decoded_t *d)
{
    switch (d->op) {
    case T_SIMD_SLOW: case T_MUL: case T_MAC: case T_LOAD_NARROW: return 2;
    case T_DIV: return M7_DIVIDE;
    case T_FP: case T_FP_MAC: return 3;
    default: return 1;
    }
}

static uint64_t m7_step(const decoded_t *d, uint32_t pc, uint32_t next_pc, const mem_access_t *acc, int n_acc)
{
    int taken = next_pc != pc + d->size;
    unsigned units = m7_units(d);
    int can_pair = started && slot_open && m7_pairs(&prev, m7_units(&prev), d, units);
    uint64_t c = can_pair ? last_issue : next_free;
    /* Operands read in the execute stage: shifter inputs and addresses a cycle early,
     * store data and accumulators a cycle late. */
    uint64_t operands = MAX2(MAX2(ready_for(d->src, 0), ready_for(d->shifted | d->addr, 1)), ready_for(d->late, -1));
    if (operands > c) {
        uint64_t to = MAX2(operands, next_free);
        totals.interlock += to - MAX2(c, next_free) ;
        c = to;
    }
    uint64_t fstall = fetch_stall(pc, d->size, c);
    if (fstall) {
        uint64_t to = MAX2(c + fstall, next_free);
        totals.fetch += to - MAX2(c, next_free);
        c = to;
    }
    int paired = started && c == last_issue;

    uint64_t dstall = data_stall(acc, n_acc);
    totals.memory += dstall;
    uint64_t refill = 0;
    if (is_branch(d->op))
        refill = m7_branch_cost(d, pc, taken, next_pc);
    totals.branch += refill;

    uint64_t lat = (d->op == T_LOAD_MULTI || d->op == T_FP_LOAD_MULTI) ? m7_issue_time(d) : m7_latency(d);
    write_regs(d->dst & (uint16_t)~d->writeback, c + lat + dstall);
    write_regs(d->writeback, c + 1);
    uint64_t done = c + m7_issue_time(d) + dstall + refill;
    if (paired) {
        next_free = MAX2(next_free, done);
        slot_open = 0;
    } else {
        next_free = done;
        slot_open = !(units & U_SINGLE) && !(is_branch(d->op) && taken) && !dstall && !refill;
    }
    return c;
}

uint64_t fn_timing_step(const decoded_t *d, uint32_t pc, uint32_t next_pc, const mem_access_t *accesses,
                        int n_accesses)
{
    decoded_t skipped;
    if (is_memory_op(d->op) && n_accesses == 0) {
        /* A load / store whose condition failed inside an IT block: one cycle, nothing written. */
        memset(&skipped, 0, sizeof skipped);
        skipped.op = T_ALU;
        skipped.size = d->size;
        d = &skipped;
        next_pc = pc + d->size;
    }
    uint64_t issue = cfg.core == CORE_M4 ? m4_step(d, pc, next_pc, accesses, n_accesses)
                                         : m7_step(d, pc, next_pc, accesses, n_accesses);
    if (!started) {
        started = 1;
        totals.interlock = totals.fetch = 0; /* the first instruction waits for nothing before it */
        totals.cycles = 0;
        last_issue = issue;
    }
    totals.cycles += issue - last_issue;
    last_issue = issue;
    prev = *d;
    return totals.cycles;
}
