/* Layer marker functions, written in assembly so that the compiler can neither inline
 * nor merge them: the QEMU counting plugin finds them by their distinct addresses. */
    .syntax unified
    .thumb
    .text

    .global fn_marker_layer_begin
    .type fn_marker_layer_begin, %function
    .thumb_func
fn_marker_layer_begin:
    bx lr
    .size fn_marker_layer_begin, . - fn_marker_layer_begin

    .global fn_marker_layer_end
    .type fn_marker_layer_end, %function
    .thumb_func
fn_marker_layer_end:
    bx lr
    .size fn_marker_layer_end, . - fn_marker_layer_end
