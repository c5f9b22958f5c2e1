/* A loop of known instruction mix for the counting tests. count_loop(n, word) runs the
 * body n times between the layer markers, so the plugin's segment holds exactly
 *   1 (fn_marker_layer_begin's bx lr) + LOOP_BODY * n + 1 (the bl to the end marker)
 * instructions. Body, per class: load_store 3 (ldr, vldr, str), mul_dsp 3 (muls, smlad,
 * sadd16), divide 1 (sdiv), fpu 1 (vadd.f32), alu 2 (adds, subs), branch 1 (bne). */
    .syntax unified
    .thumb
    .text
    .global count_loop
    .type count_loop, %function
    .thumb_func
count_loop:
    push {r4, r5, lr}
    mov r4, r0
    movs r5, #3
    bl fn_marker_layer_begin
1:  ldr r2, [r1]
    vldr s1, [r1]
    muls r2, r4, r2
    smlad r3, r2, r2, r3
    sadd16 r3, r3, r2
    sdiv r3, r2, r5
    vadd.f32 s0, s0, s1
    adds r2, r2, #1
    str r2, [r1]
    subs r4, r4, #1
    bne 1b
    bl fn_marker_layer_end
    pop {r4, r5, pc}
    .size count_loop, . - count_loop
