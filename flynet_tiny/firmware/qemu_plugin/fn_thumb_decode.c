/* Thumb-2 decoder for the timing model (see fn_thumb_decode.h). Encodings: ARMv7-M
 * Architecture Reference Manual, A5.2 (16-bit) and A5.3 (32-bit); instruction pages in A7. */
#include "fn_thumb_decode.h"

#include <string.h>

#define R(n) ((uint16_t)(1u << ((n) & 15)))
#define PC_BIT R(15)
#define LR_BIT R(14)
#define SP_BIT R(13)

static uint32_t sign_extend(uint32_t value, int bits)
{
    uint32_t m = 1u << (bits - 1);
    value &= (1u << bits) - 1;
    return (value ^ m) - m;
}

static int popcount16(uint16_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        ++n;
    return n;
}

/* A single load or store; `rt` is the data register. */
static void load_store(decoded_t *d, int is_load, int narrow, int rt, int rn, int rm, int writeback)
{
    d->addr = rn >= 0 && rn != 15 ? R(rn) : 0;
    if (rm >= 0)
        d->addr |= R(rm);
    d->imm_offset = rm < 0;
    if (is_load) {
        d->op = narrow ? T_LOAD_NARROW : T_LOAD;
        d->dst = R(rt);
        if (rt == 15)
            d->op = T_LOAD_PC;
    } else {
        d->op = T_STORE;
        d->late = R(rt);
    }
    if (writeback && rn >= 0) {
        d->dst |= R(rn);
        d->writeback = R(rn);
    }
}

static void load_store_multi(decoded_t *d, int is_load, int rn, uint16_t regs, int writeback)
{
    d->transfers = (uint8_t)popcount16(regs);
    d->addr = R(rn);
    if (is_load) {
        d->op = (regs & PC_BIT) ? T_LOAD_PC : T_LOAD_MULTI;
        d->dst = regs;
    } else {
        d->op = T_STORE_MULTI;
        d->late = regs;
    }
    if (writeback) {
        d->dst |= R(rn);
        d->writeback = R(rn);
    }
}

/* ---- 16-bit encodings (A5.2) ---- */

static void decode_thumb16(uint16_t hw, uint32_t pc, decoded_t *d)
{
    uint32_t op = hw >> 10;
    int lo0 = hw & 7, lo3 = (hw >> 3) & 7, lo6 = (hw >> 6) & 7, hi8 = (hw >> 8) & 7;
    d->op = T_ALU;
    if ((op & 0x30) == 0x00) { /* shift (imm), add, subtract, move, compare */
        uint32_t top5 = hw >> 11;
        if (top5 <= 2) { /* LSL / LSR / ASR #imm */
            d->dst = R(lo0), d->src = R(lo3);
        } else if (top5 == 3) { /* ADD / SUB, register or 3-bit immediate */
            d->dst = R(lo0), d->src = R(lo3) | (((hw >> 10) & 1) ? 0 : R(lo6));
        } else { /* MOV / CMP / ADD / SUB #imm8 */
            uint32_t opc = (hw >> 11) & 3;
            if (opc != 1)
                d->dst = R(hi8);
            if (opc != 0)
                d->src = R(hi8);
        }
        return;
    }
    if (op == 0x10) { /* data processing, register */
        uint32_t opc = (hw >> 6) & 0xF;
        d->src = R(lo0) | R(lo3);
        if (opc == 0x9 || opc == 0xF) /* RSB #0 (NEG), MVN read Rm only */
            d->src = R(lo3);
        if (opc != 0x8 && opc != 0xA && opc != 0xB) /* TST, CMP, CMN write nothing */
            d->dst = R(lo0);
        if (opc == 0xD)
            d->op = T_MUL;
        return;
    }
    if (op == 0x11) { /* special data, branch and exchange */
        uint32_t opc = (hw >> 8) & 3;
        int rdn = (hw & 7) | ((hw >> 4) & 8), rm = (hw >> 3) & 0xF;
        if (opc == 3) { /* BX / BLX register */
            d->op = T_BRANCH_IND;
            d->src = R(rm);
            if (hw & 0x80)
                d->dst = LR_BIT;
            return;
        }
        d->src = R(rm) | (opc == 2 ? 0 : R(rdn));
        if (opc != 1)
            d->dst = R(rdn);
        if (opc != 1 && rdn == 15) { /* ADD PC / MOV PC */
            d->op = T_BRANCH_IND;
            d->dst = 0;
        }
        return;
    }
    if ((op & 0x3E) == 0x12) { /* LDR literal */
        load_store(d, 1, 0, hi8, 15, -1, 0);
        return;
    }
    if ((op & 0x3C) == 0x14) { /* load / store, register offset */
        uint32_t opb = (hw >> 9) & 7; /* STR STRH STRB LDRSB LDR LDRH LDRB LDRSH */
        load_store(d, opb >= 3, opb != 0 && opb != 4, lo0, lo3, lo6, 0);
        return;
    }
    if ((op & 0x38) == 0x18) { /* STR / LDR (B) immediate */
        load_store(d, (hw >> 11) & 1, (hw >> 12) & 1, lo0, lo3, -1, 0);
        return;
    }
    if ((op & 0x3C) == 0x20) { /* STRH / LDRH immediate */
        load_store(d, (hw >> 11) & 1, 1, lo0, lo3, -1, 0);
        return;
    }
    if ((op & 0x3C) == 0x24) { /* STR / LDR SP-relative */
        load_store(d, (hw >> 11) & 1, 0, hi8, 13, -1, 0);
        return;
    }
    if ((op & 0x3E) == 0x28) { /* ADR */
        d->dst = R(hi8);
        return;
    }
    if ((op & 0x3E) == 0x2A) { /* ADD Rd, SP, #imm */
        d->dst = R(hi8), d->src = SP_BIT;
        return;
    }
    if ((op & 0x3C) == 0x2C) { /* miscellaneous (A5.2.5) */
        uint32_t misc = (hw >> 5) & 0x7F;
        if ((misc & 0x78) == 0x00) { /* ADD / SUB SP, SP, #imm */
            d->dst = SP_BIT, d->src = SP_BIT;
        } else if ((misc & 0x28) == 0x08) { /* CBZ / CBNZ */
            d->op = T_BRANCH_COND;
            d->src = R(lo0);
            d->target = pc + 4 + ((((hw >> 9) & 1) << 6) | (((hw >> 3) & 0x1F) << 1));
        } else if ((misc & 0x78) == 0x10) { /* SXTH SXTB UXTH UXTB */
            d->op = T_SIMD;
            d->dst = R(lo0), d->shifted = R(lo3);
        } else if ((misc & 0x70) == 0x20) { /* PUSH */
            load_store_multi(d, 0, 13, (uint16_t)((hw & 0xFF) | ((hw & 0x100) ? LR_BIT : 0)), 1);
        } else if (misc == 0x33) { /* CPS */
            d->op = T_SYSTEM;
        } else if ((misc & 0x78) == 0x50) { /* REV REV16 REVSH */
            d->op = T_SIMD;
            d->dst = R(lo0), d->shifted = R(lo3);
        } else if ((misc & 0x70) == 0x60) { /* POP */
            load_store_multi(d, 1, 13, (uint16_t)((hw & 0xFF) | ((hw & 0x100) ? PC_BIT : 0)), 1);
        } else if ((misc & 0x78) == 0x70) { /* BKPT */
            d->op = T_SYSTEM;
        } else if ((misc & 0x78) == 0x78) { /* IT, hints */
            d->op = (hw & 0xF) ? T_IT : T_NOP;
        }
        return;
    }
    if ((op & 0x3C) == 0x30) { /* STM / LDM */
        int is_load = (hw >> 11) & 1;
        uint16_t regs = hw & 0xFF;
        load_store_multi(d, is_load, hi8, regs, !is_load || !(regs & R(hi8)));
        return;
    }
    if ((op & 0x3C) == 0x34) { /* conditional branch, UDF, SVC */
        uint32_t cond = (hw >> 8) & 0xF;
        if (cond >= 0xE) {
            d->op = T_SYSTEM;
            return;
        }
        d->op = T_BRANCH_COND;
        d->target = pc + 4 + (sign_extend(hw & 0xFF, 8) << 1);
        return;
    }
    d->op = T_BRANCH; /* B, 11-bit offset */
    d->target = pc + 4 + (sign_extend(hw & 0x7FF, 11) << 1);
}

/* ---- 32-bit encodings (A5.3) ---- */

static void decode_coprocessor(uint16_t hw1, uint16_t hw2, decoded_t *d)
{
    uint32_t op1 = (hw1 >> 4) & 0x3F;
    int is_vfp = ((hw2 >> 9) & 7) == 5; /* coprocessor 10 / 11 */
    int rn = hw1 & 0xF, rt = (hw2 >> 12) & 0xF;
    d->op = T_SYSTEM;
    if (!is_vfp)
        return;
    if ((op1 & 0x3E) == 0x04) { /* VMOV between two core registers and a D / two S registers */
        d->op = T_FP;
        if (op1 & 1)
            d->dst = R(rt) | R(rn);
        else
            d->src = R(rt) | R(rn);
        return;
    }
    if ((op1 & 0x20) == 0) { /* extension register load / store */
        int is_load = op1 & 1, p = (op1 >> 4) & 1, w = (op1 >> 1) & 1;
        int words = hw2 & 0xFF;
        d->addr = rn == 15 ? 0 : R(rn);
        if (p && !w) { /* VLDR / VSTR: one S or D register */
            d->op = is_load ? T_FP_LOAD : T_FP_STORE;
            d->transfers = (hw2 & 0x100) ? 2 : 1;
            d->imm_offset = 1;
        } else {
            d->op = is_load ? T_FP_LOAD_MULTI : T_FP_STORE_MULTI;
            d->transfers = (uint8_t)words;
            if (w)
                d->dst = d->writeback = R(rn);
        }
        return;
    }
    if ((op1 & 0x30) == 0x20 && !(hw2 & 0x10)) { /* VFP data processing (A6.4) */
        uint32_t opc1 = ((hw1 >> 4) & 0xB);
        if ((opc1 & 0xB) <= 1 || (opc1 & 0xB) == 9 || (opc1 & 0xB) == 0xA) /* VMLA VMLS VNMLA VNMLS VFMA VFNMA */
            d->op = T_FP_MAC;
        else if (opc1 == 8)
            d->op = T_FP_DIV;
        else if (opc1 == 0xB && (hw1 & 0xF) == 1 && ((hw2 >> 6) & 3) == 3) /* VSQRT */
            d->op = T_FP_DIV;
        else
            d->op = T_FP;
        return;
    }
    if ((op1 & 0x30) == 0x20) { /* 8/16/32-bit transfer core <-> extension register, VMRS / VMSR */
        d->op = T_FP;
        if (op1 & 1) {
            if (rt != 15)
                d->dst = R(rt);
        } else {
            d->src = R(rt);
        }
    }
}

static void decode_branch_misc(uint16_t hw1, uint16_t hw2, uint32_t pc, decoded_t *d)
{
    uint32_t op = (hw2 >> 12) & 7;
    uint32_t s = (hw1 >> 10) & 1, j1 = (hw2 >> 13) & 1, j2 = (hw2 >> 11) & 1;
    if ((op & 5) == 0) {
        uint32_t cond = (hw1 >> 6) & 0xF;
        if (cond < 0xE) { /* B<cond>.W */
            uint32_t imm = (s << 20) | (j2 << 19) | (j1 << 18) | ((uint32_t)(hw1 & 0x3F) << 12) | ((hw2 & 0x7FFu) << 1);
            d->op = T_BRANCH_COND;
            d->target = pc + 4 + sign_extend(imm, 21);
            return;
        }
        if ((hw1 & 0xFFF0) == 0xF3A0) /* hints */
            d->op = T_NOP;
        else if ((hw1 & 0xFFF0) == 0xF3B0) /* DSB DMB ISB, CLREX */
            d->op = T_BARRIER;
        else {
            d->op = T_SYSTEM; /* MSR, MRS */
            if ((hw1 & 0xFFE0) == 0xF3E0)
                d->dst = R((hw2 >> 8) & 0xF);
            else if ((hw1 & 0xFFE0) == 0xF380)
                d->src = R(hw1 & 0xF);
        }
        return;
    }
    if ((op & 1) == 0) { /* UDF, BLX immediate (not on M-profile) */
        d->op = T_SYSTEM;
        return;
    }
    uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
    uint32_t imm = (s << 24) | (i1 << 23) | (i2 << 22) | ((uint32_t)(hw1 & 0x3FF) << 12) | ((hw2 & 0x7FFu) << 1);
    d->op = T_BRANCH;
    d->target = pc + 4 + sign_extend(imm, 25);
    if (op & 4) /* BL */
        d->dst = LR_BIT;
}

static void decode_dp_register(uint16_t hw1, uint16_t hw2, decoded_t *d)
{
    uint32_t op1 = (hw1 >> 4) & 0xF, op2 = (hw2 >> 4) & 0xF;
    int rn = hw1 & 0xF, rd = (hw2 >> 8) & 0xF, rm = hw2 & 0xF;
    d->dst = R(rd);
    if (op2 == 0 && (op1 & 8) == 0) { /* LSL / LSR / ASR / ROR by register */
        d->op = T_ALU;
        d->src = R(rn) | R(rm);
        return;
    }
    if ((op1 & 8) == 0) { /* SXTAH SXTH UXTAH UXTH SXTAB16 SXTB16 UXTAB16 UXTB16 SXTAB SXTB UXTAB UXTB */
        d->op = T_SIMD;
        d->shifted = R(rm);
        if (rn != 15)
            d->src = R(rn);
        return;
    }
    d->src = R(rn) | R(rm);
    if ((op2 & 8) == 0) { /* parallel add / subtract: saturating (Q, UQ) ones are the slow kind */
        uint32_t kind = op2 & 3;
        d->op = kind == 1 ? T_SIMD_SLOW : T_SIMD;
        return;
    }
    if (op1 == 0x8) /* QADD QDADD QSUB QDSUB */
        d->op = T_SIMD_SLOW;
    else if (op1 == 0x9) { /* REV REV16 RBIT REVSH: Rm only (Rn repeats it) */
        d->op = T_SIMD;
        d->src = 0, d->shifted = R(rm);
    } else /* SEL, CLZ */
        d->op = T_SIMD;
}

static void decode_multiply(uint16_t hw1, uint16_t hw2, decoded_t *d)
{
    uint32_t op1 = (hw1 >> 4) & 7;
    int rn = hw1 & 0xF, ra = (hw2 >> 12) & 0xF, rd = (hw2 >> 8) & 0xF, rm = hw2 & 0xF;
    d->dst = R(rd);
    d->src = R(rn) | R(rm);
    if (ra == 15) {
        d->op = op1 == 7 ? T_SIMD_SLOW : T_MUL; /* USAD8 */
    } else {
        d->op = T_MAC;
        d->late = R(ra);
    }
}

static void decode_long_multiply(uint16_t hw1, uint16_t hw2, decoded_t *d)
{
    uint32_t op1 = (hw1 >> 4) & 7, op2 = (hw2 >> 4) & 0xF;
    int rn = hw1 & 0xF, rlo = (hw2 >> 12) & 0xF, rhi = (hw2 >> 8) & 0xF, rm = hw2 & 0xF;
    d->src = R(rn) | R(rm);
    if ((op1 == 1 || op1 == 3) && op2 == 0xF) { /* SDIV / UDIV */
        d->op = T_DIV;
        d->dst = R(rhi);
        return;
    }
    d->dst = R(rlo) | R(rhi);
    if (op1 == 0 || op1 == 2) {
        d->op = T_MUL; /* SMULL UMULL */
    } else {
        d->op = T_MAC; /* SMLAL SMLALxy SMLALD SMLSLD UMLAL UMAAL */
        d->late = R(rlo) | R(rhi);
    }
}

static void decode_load_store_single(uint16_t hw1, uint16_t hw2, decoded_t *d)
{
    int is_load = (hw1 >> 4) & 1;
    uint32_t size = (hw1 >> 5) & 3;
    int rn = hw1 & 0xF, rt = (hw2 >> 12) & 0xF;
    int narrow = size != 2;
    if (rn == 15 || (hw1 >> 7) & 1) { /* literal, or 12-bit immediate offset */
        load_store(d, is_load, narrow, rt, rn, -1, 0);
    } else if ((hw2 >> 11) & 1) { /* 8-bit immediate: P U W */
        int writeback = (hw2 >> 8) & 1;
        load_store(d, is_load, narrow, rt, rn, -1, writeback);
    } else { /* register offset, LSL #0..3 */
        load_store(d, is_load, narrow, rt, rn, hw2 & 0xF, 0);
    }
    if (is_load && narrow && rt == 15) { /* PLD / PLI: a hint, nothing loaded into a register */
        d->op = T_NOP;
        d->dst = 0;
    }
}

static void decode_dual_exclusive_table(uint16_t hw1, uint16_t hw2, decoded_t *d)
{
    int rn = hw1 & 0xF, rt = (hw2 >> 12) & 0xF, rt2 = (hw2 >> 8) & 0xF;
    int is_load = (hw1 >> 4) & 1;
    if ((hw1 & 0xFFF0) == 0xE8D0 && (hw2 & 0xFFE0) == 0xF000) { /* TBB / TBH */
        d->op = T_TABLE_BRANCH;
        d->addr = (rn == 15 ? 0 : R(rn)) | R(hw2 & 0xF);
        return;
    }
    if (hw1 & 0x0120) { /* LDRD / STRD: P or W set */
        d->op = is_load ? T_LOAD_DUAL : T_STORE_DUAL;
        d->transfers = 2;
        d->addr = rn == 15 ? 0 : R(rn);
        d->imm_offset = 1;
        if (is_load)
            d->dst = R(rt) | R(rt2);
        else
            d->late = R(rt) | R(rt2);
        if ((hw1 >> 5) & 1) {
            d->dst |= R(rn);
            d->writeback = R(rn);
        }
        return;
    }
    /* LDREX / STREX (word, byte, halfword) */
    if (is_load) {
        load_store(d, 1, (hw1 & 0xFFF0) == 0xE8D0, rt, rn, -1, 0);
    } else {
        load_store(d, 0, 0, rt, rn, -1, 0);
        d->dst = R((hw1 & 0xFFF0) == 0xE840 ? rt2 : (hw2 & 0xF)); /* status register */
    }
}

static void decode_thumb32(uint16_t hw1, uint16_t hw2, uint32_t pc, decoded_t *d)
{
    uint32_t op1 = (hw1 >> 11) & 3;
    uint32_t op2 = (hw1 >> 4) & 0x7F;
    d->op = T_ALU;
    if (op1 == 1) {
        if ((op2 & 0x64) == 0x00) { /* load / store multiple */
            uint32_t mode = (hw1 >> 7) & 3;
            if (mode == 1 || mode == 2)
                load_store_multi(d, (hw1 >> 4) & 1, hw1 & 0xF, hw2, (hw1 >> 5) & 1);
            else
                d->op = T_SYSTEM; /* SRS / RFE */
            return;
        }
        if ((op2 & 0x64) == 0x04) {
            decode_dual_exclusive_table(hw1, hw2, d);
            return;
        }
        if ((op2 & 0x60) == 0x20) { /* data processing, shifted register */
            uint32_t opc = (hw1 >> 5) & 0xF;
            int rn = hw1 & 0xF, rd = (hw2 >> 8) & 0xF, rm = hw2 & 0xF;
            uint32_t amount = ((hw2 >> 10) & 0x1C) | ((hw2 >> 6) & 3), type = (hw2 >> 4) & 3;
            int is_move = (opc == 2 || opc == 3) && rn == 15; /* MOV / MVN (and shifts by immediate) */
            int is_test = (opc == 0 || opc == 4 || opc == 8 || opc == 0xD) && rd == 15 && ((hw1 >> 4) & 1);
            if (!is_test)
                d->dst = R(rd);
            if (!is_move)
                d->src = R(rn);
            if (opc == 6) { /* PKHBT / PKHTB */
                d->op = T_SIMD;
                d->shifted = R(rm);
            } else if (!is_move && (amount != 0 || type == 3)) {
                d->op = T_ALU_SHIFT;
                d->shifted = R(rm);
            } else {
                d->src |= R(rm);
            }
            return;
        }
        decode_coprocessor(hw1, hw2, d);
        return;
    }
    if (op1 == 2) {
        if (hw2 & 0x8000) {
            decode_branch_misc(hw1, hw2, pc, d);
            return;
        }
        int rn = hw1 & 0xF, rd = (hw2 >> 8) & 0xF;
        if ((hw1 & 0x0200) == 0) { /* data processing, modified immediate */
            uint32_t opc = (hw1 >> 5) & 0xF;
            int is_test = (opc == 0 || opc == 4 || opc == 8 || opc == 0xD) && rd == 15 && ((hw1 >> 4) & 1);
            if (!is_test)
                d->dst = R(rd);
            if (!((opc == 2 || opc == 3) && rn == 15))
                d->src = R(rn);
            if (((hw1 >> 10) & 1) || ((hw2 >> 12) & 7)) /* not a plain 8-bit immediate: goes through the shifter */
                d->op = T_ALU_SHIFT;
            return;
        }
        /* plain binary immediate */
        uint32_t opc = (hw1 >> 4) & 0x1F;
        d->dst = R(rd);
        if (opc == 0x04) /* MOVW */
            return;
        if (opc == 0x0C) { /* MOVT keeps the low half */
            d->src = R(rd);
            return;
        }
        if (rn != 15)
            d->src = R(rn);
        if (opc == 0x16) { /* BFI / BFC */
            d->op = T_SIMD;
            d->src |= R(rd);
        } else if (opc == 0x10 || opc == 0x12 || opc == 0x18 || opc == 0x1A) { /* SSAT USAT (16) */
            d->op = T_SIMD_SLOW;
            d->shifted = d->src, d->src = 0;
        } else if (opc == 0x14 || opc == 0x1C) { /* SBFX / UBFX */
            d->op = T_SIMD;
            d->shifted = d->src, d->src = 0;
        }
        return;
    }
    /* op1 == 3 */
    if ((op2 & 0x71) == 0x00 || (op2 & 0x67) == 0x01 || (op2 & 0x67) == 0x03 || (op2 & 0x67) == 0x05) {
        decode_load_store_single(hw1, hw2, d);
        return;
    }
    if ((op2 & 0x70) == 0x20) {
        decode_dp_register(hw1, hw2, d);
        return;
    }
    if ((op2 & 0x78) == 0x30) {
        decode_multiply(hw1, hw2, d);
        return;
    }
    if ((op2 & 0x78) == 0x38) {
        decode_long_multiply(hw1, hw2, d);
        return;
    }
    if (op2 & 0x40) {
        decode_coprocessor(hw1, hw2, d);
        return;
    }
    d->op = T_SYSTEM; /* undefined space */
}

void fn_thumb_decode(const uint8_t bytes[4], uint32_t pc, decoded_t *out)
{
    uint16_t hw1 = (uint16_t)(bytes[0] | (bytes[1] << 8));
    memset(out, 0, sizeof *out);
    if ((hw1 >> 11) >= 0x1D) {
        uint16_t hw2 = (uint16_t)(bytes[2] | (bytes[3] << 8));
        out->size = 4;
        decode_thumb32(hw1, hw2, pc, out);
    } else {
        out->size = 2;
        decode_thumb16(hw1, pc, out);
    }
    /* A write to PC by a data-processing or load instruction is a branch. */
    if ((out->dst & PC_BIT) && out->op != T_LOAD_PC && out->op != T_BRANCH && out->op != T_BRANCH_COND)
        out->op = (out->op == T_LOAD || out->op == T_LOAD_MULTI) ? T_LOAD_PC : T_BRANCH_IND;
    out->dst &= (uint16_t)~PC_BIT;
    out->src &= (uint16_t)~PC_BIT;
    out->addr &= (uint16_t)~PC_BIT;
    out->writeback &= (uint16_t)~PC_BIT;
}
