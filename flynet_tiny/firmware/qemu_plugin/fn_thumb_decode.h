/* Thumb-2 decoding for the timing model: what an instruction occupies in the pipeline and
 * which core registers it reads and writes (ARMv7-M Architecture Reference Manual, A5 / A7).
 * Decoded once per translated instruction; the timing model (fn_timing.c) reads the result
 * on every execution. Floating-point registers are not tracked (the int8 kernels use none
 * in their loops). */
#ifndef FN_THUMB_DECODE_H
#define FN_THUMB_DECODE_H

#include <stdint.h>

enum timing_op {
    T_ALU,         /* data processing, 1 cycle */
    T_ALU_SHIFT,   /* with a shifted register or a wide rotated immediate: the M7's single shifter */
    T_SIMD,        /* DSP data processing (SADD16, SEL, SXTB16, UXTB, REV, SSAT, UBFX, PKH, BFI, CLZ) */
    T_SIMD_SLOW,   /* saturating DSP (QADD16, QADD, USAD8, SSAT): 2-cycle result on the M7 */
    T_MUL,         /* MUL, SMULxy, SMUAD, SMMUL, SMULL, UMULL */
    T_MAC,         /* MLA, MLS, SMLAxy, SMLAD, SMLAL, UMLAL, SMLALD, UMAAL, USADA8: accumulator read late */
    T_DIV,         /* SDIV, UDIV */
    T_LOAD,        /* LDR word, LDREX */
    T_LOAD_NARROW, /* LDRB / LDRH / LDRSB / LDRSH */
    T_STORE,       /* STR / STRB / STRH / STREX */
    T_LOAD_DUAL,   /* LDRD */
    T_STORE_DUAL,  /* STRD */
    T_LOAD_MULTI,  /* LDM, POP (without PC) */
    T_STORE_MULTI, /* STM, PUSH */
    T_BRANCH,      /* B, BL: direct, unconditional */
    T_BRANCH_COND, /* B<cond>, CBZ, CBNZ: direct, conditional */
    T_BRANCH_IND,  /* BX, BLX, MOV / ADD to PC: target from a register */
    T_LOAD_PC,     /* LDR PC, POP {..., PC}, LDM with PC */
    T_TABLE_BRANCH, /* TBB, TBH */
    T_IT,
    T_NOP,         /* NOP and hints */
    T_BARRIER,     /* DMB, DSB, ISB */
    T_SYSTEM,      /* MRS, MSR, CPS, SVC, BKPT, UDF, other coprocessors */
    T_FP,          /* VFP data processing and register moves: VADD, VMUL, VCVT, VMOV, VMRS */
    T_FP_MAC,      /* VMLA, VMLS, VFMA, VNMLA, ... */
    T_FP_DIV,      /* VDIV, VSQRT */
    T_FP_LOAD,     /* VLDR */
    T_FP_STORE,    /* VSTR */
    T_FP_LOAD_MULTI,  /* VLDM, VPOP */
    T_FP_STORE_MULTI, /* VSTM, VPUSH */
    N_TIMING_OPS
};

typedef struct {
    uint8_t op;          /* enum timing_op */
    uint8_t size;        /* 2 or 4 bytes */
    uint8_t transfers;   /* words moved by LDM / STM / PUSH / POP / VLDM / VSTM / LDRD / STRD */
    uint8_t imm_offset;  /* single load / store with an immediate offset (no index register) */
    uint16_t dst;        /* core registers written (bit n = Rn) */
    uint16_t src;        /* registers read in the execute stage */
    uint16_t addr;       /* registers read for address generation (base, index) */
    uint16_t late;       /* registers read late: store data, multiply-accumulate addends */
    uint16_t shifted;    /* registers read through the shifter (early on the M7) */
    uint16_t writeback;  /* base register updated by a load / store (ready early, from the address adder) */
    uint32_t target;     /* branch target of a direct branch */
} decoded_t;

/* `bytes` holds the instruction (4 bytes, the second halfword unused for a 16-bit one);
 * `pc` its address. */
void fn_thumb_decode(const uint8_t bytes[4], uint32_t pc, decoded_t *out);

#endif
