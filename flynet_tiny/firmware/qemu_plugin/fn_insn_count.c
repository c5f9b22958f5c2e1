/* QEMU TCG plugin: exact executed-instruction counts per layer, by instruction class, and
 * (with core=) a cycle estimate from the timing model that follows the executed stream.
 *
 * Built by flynet_tiny/sim/plugin.py with the host gcc. Debian's QEMU 7.2 exports the plugin
 * API but ships no qemu-plugin.h, so the few declarations used are written out in
 * fn_qemu_plugin_api.h from the version-1 API (include/qemu/qemu-plugin.h at v7.2.0).
 *
 * Counting: every translated instruction gets a slot {count, class} and an inline add-1 on
 * that slot, so a count is exact even when QEMU stops a block part-way (icount I/O
 * recompiles, faults). Layer attribution: the firmware calls fn_marker_layer_begin /
 * fn_marker_layer_end (addresses passed as plugin arguments). At each marker the plugin sums
 * all slots per class; a layer is the difference between its begin and end sums. The begin
 * marker's own instruction belongs to the layer, the end marker's does not. Instructions in
 * [xlo, xhi) (another firmware's instrumentation: marker functions, trampolines) are neither
 * counted nor timed.
 *
 * Timing (fn_timing.c): with core=, every instruction also gets an execution callback and
 * every load / store a memory callback. An instruction is timed when the next one executes,
 * which tells a taken branch from a fall-through and has collected its data addresses. A
 * layer's cycles run from the issue of its begin marker's instruction to the issue of its
 * end marker's (the first timed instruction at or after each marker).
 *
 * Arguments: out=PATH, begin=0xADDR, end=0xADDR, xlo=0xADDR, xhi=0xADDR; timing: core=m4|m7,
 * prefetch=0|1, icache=SETS:WAYS:LINE, dcache=SETS:WAYS:LINE, region=LO:HI:flash|ram|tcm:MISS
 * (repeated). Output lines (flushed at every marker, so they survive a killed QEMU):
 *   B <seq>                      a layer began
 *   E <seq> <total> <class...>   a layer ended, counts in CLASS_NAMES order
 *   C <seq> <cycles> <interlock> <branch> <fetch> <memory>   the layer's cycles and their stalls
 *   T <total> <class...>         whole run, written at exit
 *   TC <cycles> <interlock> <branch> <fetch> <memory>        whole run's cycles, at exit
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn_qemu_plugin_api.h"
#include "fn_thumb_decode.h"
#include "fn_timing.h"

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

enum insn_class { ALU, LOAD_STORE, MUL_DSP, BRANCH, FPU, DIVIDE, OTHER, N_CLASSES };
/* Host side (flynet_tiny/sim/classes.py) reads the columns in this order. */
static const char *const CLASS_NAMES[N_CLASSES] = {"alu", "load_store", "mul_dsp", "branch", "fpu", "divide", "other"};

typedef struct {
    uint64_t count;
    uint8_t klass;
} slot_t;

/* Items that never move once allocated (inline ops and callbacks point into them), in blocks. */
typedef struct block {
    struct block *next;
    size_t used;
    max_align_t items[];
} block_t;

typedef struct {
    block_t *newest;
    size_t item_size, per_block;
} pool_t;

static void *pool_new(pool_t *pool)
{
    if (!pool->newest || pool->newest->used == pool->per_block) {
        block_t *block = calloc(1, sizeof *block + pool->item_size * pool->per_block);
        if (!block) {
            fprintf(stderr, "fn_insn_count: out of memory\n");
            abort();
        }
        block->next = pool->newest;
        pool->newest = block;
    }
    return (char *)pool->newest->items + pool->item_size * pool->newest->used++;
}

static pool_t slots = {NULL, sizeof(slot_t), 8192};
static uint64_t begin_addr = UINT64_MAX, end_addr = UINT64_MAX;
static uint64_t exclude_lo, exclude_hi; /* [xlo, xhi): neither counted nor timed */
static FILE *out;
static uint64_t layer_seq;
static uint64_t at_begin[N_CLASSES];
static bool in_layer;

static slot_t *new_slot(uint8_t klass)
{
    slot_t *slot = pool_new(&slots);
    slot->klass = klass;
    return slot;
}

static void sum_classes(uint64_t sums[N_CLASSES])
{
    memset(sums, 0, N_CLASSES * sizeof sums[0]);
    for (block_t *block = slots.newest; block; block = block->next) {
        const slot_t *slot = (const slot_t *)block->items;
        for (size_t i = 0; i < block->used; ++i)
            sums[slot[i].klass] += slot[i].count;
    }
}

static void write_counts(char tag, const uint64_t counts[N_CLASSES], bool with_seq)
{
    uint64_t total = 0;
    for (int c = 0; c < N_CLASSES; ++c)
        total += counts[c];
    fprintf(out, "%c", tag);
    if (with_seq)
        fprintf(out, " %" PRIu64, layer_seq);
    fprintf(out, " %" PRIu64, total);
    for (int c = 0; c < N_CLASSES; ++c)
        fprintf(out, " %" PRIu64, counts[c]);
    fprintf(out, "\n");
    fflush(out);
}

/* Marker slots get no inline op: the marker code counts them itself (unless excluded), so
 * whether the marker instruction falls inside the layer does not depend on QEMU's callback
 * order. Each returns whether it opened / closed a layer. */
static bool marker_begin(slot_t *slot, bool excluded)
{
    sum_classes(at_begin); /* before counting the marker, so the layer includes it */
    if (!excluded)
        slot->count++;
    in_layer = true;
    fprintf(out, "B %" PRIu64 "\n", layer_seq);
    fflush(out);
    return true;
}

static bool marker_end(slot_t *slot, bool excluded)
{
    bool closed = in_layer;
    if (in_layer) {
        uint64_t now[N_CLASSES];
        sum_classes(now);
        for (int c = 0; c < N_CLASSES; ++c)
            now[c] -= at_begin[c];
        write_counts('E', now, true);
        layer_seq++;
        in_layer = false;
    }
    if (!excluded)
        slot->count++;
    return closed;
}

/* ---- timing: one record per translated instruction, timed when the next one executes ---- */

enum { NOT_MARKER, MARKER_BEGIN, MARKER_END };

typedef struct {
    decoded_t d;
    uint32_t pc;
    uint8_t marker;
    bool excluded;
    slot_t *slot;
} timed_insn_t;

#define MAX_ACCESSES 64 /* VLDM of 32 words plus slack */

static bool timing_on;
static timing_config_t timing_config;
static pool_t timed_insns = {NULL, sizeof(timed_insn_t), 4096};
static const timed_insn_t *pending;  /* executed, not yet timed */
static mem_access_t accesses[MAX_ACCESSES];
static int n_accesses;
static bool begin_due, end_due; /* a marker ran: resolve at the next timed instruction */
static uint64_t cycle_seq;
static timing_totals_t at_cycle_begin;
static bool cycles_open;

static void write_cycles(const char *tag, bool with_seq, const timing_totals_t *t)
{
    fprintf(out, "%s", tag);
    if (with_seq)
        fprintf(out, " %" PRIu64, cycle_seq);
    fprintf(out, " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", t->cycles, t->interlock,
            t->branch, t->fetch, t->memory);
    fflush(out);
}

/* Time the pending instruction, now that the next executed address is known. */
static void time_pending(uint32_t next_pc)
{
    if (!pending)
        return;
    fn_timing_step(&pending->d, pending->pc, next_pc, accesses, n_accesses);
    pending = NULL;
    n_accesses = 0;
    if (!begin_due && !end_due)
        return;
    timing_totals_t now;
    fn_timing_totals(&now);
    if (begin_due) {
        at_cycle_begin = now;
        cycles_open = true;
        begin_due = false;
    }
    if (end_due && cycles_open) {
        timing_totals_t d = {now.cycles - at_cycle_begin.cycles, now.interlock - at_cycle_begin.interlock,
                             now.branch - at_cycle_begin.branch, now.fetch - at_cycle_begin.fetch,
                             now.memory - at_cycle_begin.memory};
        write_cycles("C", true, &d);
        cycle_seq++;
        cycles_open = false;
    }
    end_due = false;
}

static void on_exec_timed(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    const timed_insn_t *insn = udata;
    time_pending(insn->pc);
    if (insn->marker == MARKER_BEGIN)
        begin_due = marker_begin(insn->slot, insn->excluded);
    else if (insn->marker == MARKER_END)
        end_due = marker_end(insn->slot, insn->excluded);
    if (!insn->excluded)
        pending = insn;
}

/* Without timing, only the markers get a callback. */
static void on_marker(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    const timed_insn_t *insn = udata;
    if (insn->marker == MARKER_BEGIN)
        marker_begin(insn->slot, insn->excluded);
    else
        marker_end(insn->slot, insn->excluded);
}

static void on_memory(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (n_accesses < MAX_ACCESSES) {
        accesses[n_accesses].addr = (uint32_t)vaddr;
        accesses[n_accesses].is_store = qemu_plugin_mem_is_store(info);
        n_accesses++;
    }
}

/* ---- Thumb-2 instruction classes (ARMv7-M ARM, section A5) ---- */

/* Coprocessor space (CP10 / CP11 are the FPU): loads and stores are memory traffic. */
static uint8_t classify_coprocessor(uint16_t hw1)
{
    uint32_t op1 = (hw1 >> 4) & 0x3F;
    if ((op1 & 0x20) == 0 && (op1 & 0x3A) != 0x00) /* LDC / STC: VLDR, VSTR, VPUSH, VPOP, VLDM */
        return LOAD_STORE;
    return FPU;
}

static uint8_t classify_thumb32(uint16_t hw1, uint16_t hw2)
{
    uint32_t op1 = (hw1 >> 11) & 3;
    uint32_t op2 = (hw1 >> 4) & 0x7F;
    if (op1 == 1) {
        if ((op2 & 0x64) == 0x00) /* load / store multiple */
            return LOAD_STORE;
        if ((op2 & 0x64) == 0x04) { /* load / store dual, exclusive, table branch */
            if ((hw1 & 0xFFF0) == 0xE8D0 && (hw2 & 0xFFE0) == 0xF000)
                return BRANCH; /* TBB / TBH */
            return LOAD_STORE;
        }
        if ((op2 & 0x60) == 0x20) /* data processing, shifted register */
            return ALU;
        return classify_coprocessor(hw1);
    }
    if (op1 == 2) {
        if ((hw2 & 0x8000) == 0) /* data processing, immediate */
            return ALU;
        uint32_t op = (hw2 >> 12) & 7;
        if ((op & 5) == 0 && (op2 & 0x38) == 0x38) /* MSR, MRS, hints, barriers */
            return OTHER;
        return BRANCH;
    }
    /* op1 == 3 */
    if ((op2 & 0x60) == 0x00) /* load / store single, memory hints */
        return LOAD_STORE;
    if ((op2 & 0x70) == 0x20) { /* data processing, register */
        uint32_t dp_op1 = (hw1 >> 4) & 0xF;
        uint32_t dp_op2 = (hw2 >> 4) & 0xF;
        if ((dp_op1 & 8) && (dp_op2 & 8) == 0) /* parallel add / subtract (SADD16, UQADD8, ...) */
            return MUL_DSP;
        if (dp_op1 == 8 && (dp_op2 & 0xC) == 8) /* QADD, QDADD, QSUB, QDSUB */
            return MUL_DSP;
        return ALU;
    }
    if ((op2 & 0x78) == 0x30) /* multiply, multiply-accumulate, SMLAD, USAD8 */
        return MUL_DSP;
    if ((op2 & 0x78) == 0x38) { /* long multiply, long multiply-accumulate, divide */
        uint32_t lop = (hw1 >> 4) & 7;
        return (lop == 1 || lop == 3) ? DIVIDE : MUL_DSP; /* SDIV, UDIV */
    }
    return classify_coprocessor(hw1);
}

static uint8_t classify_thumb16(uint16_t hw)
{
    uint32_t op = hw >> 10;
    if ((op & 0x30) == 0x00) /* shift, add, subtract, move, compare */
        return ALU;
    if (op == 0x10) /* data processing: MUL is opcode 0b1101 */
        return ((hw >> 6) & 0xF) == 0xD ? MUL_DSP : ALU;
    if (op == 0x11) { /* special data, branch and exchange */
        if (((hw >> 8) & 3) == 3)
            return BRANCH; /* BX, BLX */
        uint32_t rd = (hw & 7) | ((hw >> 4) & 8);
        return (rd == 15 && ((hw >> 8) & 3) != 1) ? BRANCH : ALU; /* ADD / MOV to PC */
    }
    if ((op & 0x3E) == 0x12) /* LDR literal */
        return LOAD_STORE;
    if ((op & 0x3C) == 0x14 || (op & 0x38) == 0x18 || (op & 0x38) == 0x20) /* load / store single */
        return LOAD_STORE;
    if ((op & 0x3C) == 0x28) /* ADR, ADD SP */
        return ALU;
    if ((op & 0x3C) == 0x2C) { /* miscellaneous */
        uint32_t misc = (hw >> 5) & 0x7F;
        if ((misc & 0x28) == 0x08) /* CBZ, CBNZ */
            return BRANCH;
        if ((misc & 0x70) == 0x20 || (misc & 0x70) == 0x60) /* PUSH, POP */
            return LOAD_STORE;
        if ((misc & 0x78) == 0x70 || (misc & 0x78) == 0x78 || misc == 0x33) /* BKPT, IT, hints, CPS */
            return OTHER;
        return ALU; /* SP adjust, extend, REV */
    }
    if ((op & 0x3C) == 0x30) /* STM, LDM */
        return LOAD_STORE;
    if ((op & 0x3C) == 0x34) /* conditional branch, SVC, UDF */
        return ((hw >> 8) & 0xF) >= 0xE ? OTHER : BRANCH;
    return BRANCH; /* 0b11100x: unconditional branch */
}

/* The length comes from the first halfword: QEMU 7.2 sometimes reports 4 bytes for a
 * 16-bit instruction (its Thumb translator peeks at the next halfword). */
static uint8_t classify(const uint8_t *bytes, size_t size)
{
    uint16_t hw1 = (uint16_t)(bytes[0] | (bytes[1] << 8));
    bool is_32bit = (hw1 >> 11) >= 0x1D;
    if (is_32bit && size >= 4) {
        uint16_t hw2 = (uint16_t)(bytes[2] | (bytes[3] << 8));
        return classify_thumb32(hw1, hw2);
    }
    return classify_thumb16(hw1);
}

static bool is_excluded(uint64_t vaddr)
{
    return vaddr >= exclude_lo && vaddr < exclude_hi;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint8_t bytes[4] = {0};
        size_t size = qemu_plugin_insn_size(insn);
        memcpy(bytes, qemu_plugin_insn_data(insn), size < 4 ? size : 4);
        slot_t *slot = new_slot(classify(bytes, size));
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        bool excluded = is_excluded(vaddr);
        uint8_t marker = vaddr == begin_addr ? MARKER_BEGIN : vaddr == end_addr ? MARKER_END : NOT_MARKER;
        if (timing_on || marker != NOT_MARKER) {
            timed_insn_t *timed = pool_new(&timed_insns);
            timed->pc = (uint32_t)vaddr;
            timed->marker = marker;
            timed->excluded = excluded;
            timed->slot = slot;
            if (timing_on) {
                fn_thumb_decode(bytes, (uint32_t)vaddr, &timed->d);
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_exec_timed, QEMU_PLUGIN_CB_NO_REGS, timed);
                if (!excluded)
                    qemu_plugin_register_vcpu_mem_cb(insn, on_memory, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
                                                     NULL);
            } else {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS, timed);
            }
        }
        if (marker == NOT_MARKER && !excluded)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &slot->count, 1);
    }
}

static void on_qemu_exit(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    uint64_t totals[N_CLASSES];
    sum_classes(totals);
    write_counts('T', totals, false);
    if (timing_on) {
        if (pending)
            time_pending(pending->pc + pending->d.size);
        timing_totals_t t;
        fn_timing_totals(&t);
        write_cycles("TC", false, &t);
    }
    fclose(out);
}

/* ---- arguments ---- */

static bool parse_cache(const char *text, cache_geometry_t *g)
{
    return sscanf(text, "%u:%u:%u", &g->sets, &g->ways, &g->line_bytes) == 3 && g->sets && g->ways &&
           g->line_bytes && (g->line_bytes & (g->line_bytes - 1)) == 0;
}

static bool parse_region(const char *text, timing_config_t *c)
{
    char path[8];
    long long lo, hi;
    unsigned miss;
    if (c->n_regions == FN_MAX_REGIONS || sscanf(text, "%lli:%lli:%7[a-z]:%u", &lo, &hi, path, &miss) != 4)
        return false;
    mem_region_t *r = &c->regions[c->n_regions++];
    r->lo = (uint32_t)lo, r->hi = (uint32_t)hi, r->miss_cycles = (uint16_t)miss;
    if (strcmp(path, "flash") == 0)
        r->path = PATH_FLASH;
    else if (strcmp(path, "ram") == 0)
        r->path = PATH_RAM;
    else if (strcmp(path, "tcm") == 0)
        r->path = PATH_TCM;
    else
        return false;
    return r->hi > r->lo;
}

static bool parse_argument(const char *arg, const char **path)
{
    if (strncmp(arg, "begin=", 6) == 0)
        begin_addr = strtoull(arg + 6, NULL, 0) & ~1ull; /* drop the Thumb bit */
    else if (strncmp(arg, "end=", 4) == 0)
        end_addr = strtoull(arg + 4, NULL, 0) & ~1ull;
    else if (strncmp(arg, "xlo=", 4) == 0)
        exclude_lo = strtoull(arg + 4, NULL, 0);
    else if (strncmp(arg, "xhi=", 4) == 0)
        exclude_hi = strtoull(arg + 4, NULL, 0);
    else if (strncmp(arg, "out=", 4) == 0)
        *path = arg + 4;
    else if (strcmp(arg, "core=m4") == 0 || strcmp(arg, "core=m7") == 0)
        timing_on = true, timing_config.core = arg[6] == '4' ? CORE_M4 : CORE_M7;
    else if (strncmp(arg, "prefetch=", 9) == 0)
        timing_config.prefetch = arg[9] == '1';
    else if (strncmp(arg, "icache=", 7) == 0)
        return parse_cache(arg + 7, &timing_config.icache);
    else if (strncmp(arg, "dcache=", 7) == 0)
        return parse_cache(arg + 7, &timing_config.dcache);
    else if (strncmp(arg, "region=", 7) == 0)
        return parse_region(arg + 7, &timing_config);
    else
        return false;
    return true;
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    const char *path = NULL;
    for (int i = 0; i < argc; ++i) {
        if (!parse_argument(argv[i], &path)) {
            fprintf(stderr, "fn_insn_count: bad argument %s (expected out=, begin=, end=, xlo=, xhi=, core=m4|m7, "
                            "prefetch=0|1, icache=/dcache=SETS:WAYS:LINE, region=LO:HI:flash|ram|tcm:MISS)\n", argv[i]);
            return 1;
        }
    }
    if (!path) {
        fprintf(stderr, "fn_insn_count: missing out=PATH\n");
        return 1;
    }
    if (timing_on && fn_timing_init(&timing_config) != 0)
        return 1;
    out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "fn_insn_count: cannot write %s\n", path);
        return 1;
    }
    fprintf(out, "#");
    for (int c = 0; c < N_CLASSES; ++c)
        fprintf(out, " %s", CLASS_NAMES[c]);
    fprintf(out, "\n");
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
    return 0;
}
