"""When a kernel is worth a parallel launch: shared by every Numba kernel with a serial twin."""

# A parallel launch costs 60-100 us here however small its array (kernels/pooling.py measured
# it; a profile of `npcae gradcheck` found 107,306 im2col calls taking 17.4 s): below this many
# elements a kernel runs its serial twin, which computes the same values in the same order.
SERIAL_BELOW = 1 << 20
