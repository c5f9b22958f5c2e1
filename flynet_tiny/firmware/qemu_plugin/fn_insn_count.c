/* QEMU TCG plugin: exact executed-instruction counts per layer, by instruction class.
 *
 * Built by flynet_tiny/sim/plugin.py with the host gcc. Debian's QEMU 7.2 exports the
 * plugin API but ships no qemu-plugin.h, so the few declarations used are written out
 * below from the version-1 API (include/qemu/qemu-plugin.h at v7.2.0).
 *
 * Counting: every translated instruction gets a slot {count, class} and an inline
 * add-1 on that slot, so a count is exact even when QEMU stops a block part-way (icount
 * I/O recompiles, faults). Layer attribution: the firmware calls fn_marker_layer_begin /
 * fn_marker_layer_end (addresses passed as plugin arguments). At each marker the plugin
 * sums all slots per class; a layer is the difference between its begin and end sums.
 * The begin marker's own instruction belongs to the layer, the end marker's does not.
 *
 * Arguments: begin=0xADDR, end=0xADDR, out=PATH. Output lines (flushed at every marker,
 * so they survive a killed QEMU):
 *   B <seq>                      a layer began
 *   E <seq> <total> <class...>   a layer ended, counts in CLASS_NAMES order
 *   T <total> <class...>         whole run, written at exit
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, version 1 (the subset this plugin uses) ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;
/* ---- end of API declarations ---- */

enum insn_class { ALU, LOAD_STORE, MUL_DSP, BRANCH, FPU, DIVIDE, OTHER, N_CLASSES };
/* Host side (flynet_tiny/sim/classes.py) reads the columns in this order. */
static const char *const CLASS_NAMES[N_CLASSES] = {"alu", "load_store", "mul_dsp", "branch", "fpu", "divide", "other"};

typedef struct {
    uint64_t count;
    uint8_t klass;
} slot_t;

#define SLOTS_PER_CHUNK 8192
typedef struct chunk {
    struct chunk *next;
    size_t used;
    slot_t slots[SLOTS_PER_CHUNK];
} chunk_t;

static chunk_t *chunks; /* newest first; slots never move, inline ops point into them */
static uint64_t begin_addr = UINT64_MAX, end_addr = UINT64_MAX;
static FILE *out;
static uint64_t layer_seq;
static uint64_t at_begin[N_CLASSES];
static bool in_layer;

static slot_t *new_slot(uint8_t klass)
{
    if (!chunks || chunks->used == SLOTS_PER_CHUNK) {
        chunk_t *chunk = calloc(1, sizeof *chunk);
        if (!chunk) {
            fprintf(stderr, "fn_insn_count: out of memory\n");
            abort();
        }
        chunk->next = chunks;
        chunks = chunk;
    }
    slot_t *slot = &chunks->slots[chunks->used++];
    slot->klass = klass;
    return slot;
}

static void sum_classes(uint64_t sums[N_CLASSES])
{
    memset(sums, 0, N_CLASSES * sizeof sums[0]);
    for (chunk_t *chunk = chunks; chunk; chunk = chunk->next)
        for (size_t i = 0; i < chunk->used; ++i)
            sums[chunk->slots[i].klass] += chunk->slots[i].count;
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

/* Marker slots get no inline op: the callback counts them itself, so whether the marker
 * instruction falls inside the layer does not depend on QEMU's callback order. */
static void on_begin(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    slot_t *slot = udata;
    sum_classes(at_begin); /* before counting the marker, so the layer includes it */
    slot->count++;
    in_layer = true;
    fprintf(out, "B %" PRIu64 "\n", layer_seq);
    fflush(out);
}

static void on_end(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    slot_t *slot = udata;
    if (in_layer) {
        uint64_t now[N_CLASSES];
        sum_classes(now);
        for (int c = 0; c < N_CLASSES; ++c)
            now[c] -= at_begin[c];
        write_counts('E', now, true);
        layer_seq++;
        in_layer = false;
    }
    slot->count++;
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
        if (vaddr == begin_addr)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, slot);
        else if (vaddr == end_addr)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, slot);
        else
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
    fclose(out);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    const char *path = NULL;
    for (int i = 0; i < argc; ++i) {
        if (strncmp(argv[i], "begin=", 6) == 0)
            begin_addr = strtoull(argv[i] + 6, NULL, 0) & ~1ull; /* drop the Thumb bit */
        else if (strncmp(argv[i], "end=", 4) == 0)
            end_addr = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        else if (strncmp(argv[i], "out=", 4) == 0)
            path = argv[i] + 4;
        else {
            fprintf(stderr, "fn_insn_count: unknown argument %s (expected begin=, end=, out=)\n", argv[i]);
            return 1;
        }
    }
    if (!path) {
        fprintf(stderr, "fn_insn_count: missing out=PATH\n");
        return 1;
    }
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
