"""A machine vector for Numba kernels: one 64-byte register of float32 (16 lanes) or float64 (8).

    v = load(array, i)          array.flat[i : i + lanes(array)]
    store(array, i, v)          array.flat[i : i + lanes] = v
    v = fmadd(v, s, w)          v + s * w, the scalar s in every lane (one fused multiply-add)
    lanes(array)                16 for float32, 8 for float64: a constant where it is compiled

Why: a convolution with few filters is a thin matrix product, which BLAS runs at a third of
its speed, and its register-blocked inner loop (eight pixels' sums of sixteen filters, held in
registers while the kernel's taps stream by) is what LLVM's auto-vectoriser does not find from
Python loops: written as scalars, as loops over the filters, or over a stack array, the same
product ran at 7-13 GF/s here against OpenBLAS's 62. With the vector as a value, the sums are
SSA values that LLVM keeps in registers, and the same loop runs at 103 GF/s (kernels/direct.py
uses it; /work/meas/s7 in the session notes). A vector is 64 bytes however wide the machine's
registers are: LLVM splits it into two 32-byte registers without AVX-512, one with.

The arrays must be C-contiguous (the flat index is the caller's) and the caller keeps
i + lanes within the array: there is no bounds check, as in the Numba kernels around it.
`fmadd` is llvm.fmuladd: fused where the CPU has FMA (the result then rounds once), a multiply
and an add elsewhere; either way the same on every call on one machine, so kernels that use it
stay deterministic.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

VECTOR_BYTES = 64


class Vector(types.Type):
    """The Numba type of a vector of `lanes` values of `dtype` (a Numba float type)."""

    def __init__(self, dtype):
        self.dtype, self.lanes = dtype, VECTOR_BYTES // (dtype.bitwidth // 8)
        super().__init__(name=f"Vector({dtype}x{self.lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _float_array(array):
    return (isinstance(array, types.Array) and array.layout == "C"
            and array.dtype in (types.float32, types.float64))


def _vector_pointer(context, builder, array_type, array, index, lanes):
    data = context.make_array(array_type)(context, builder, array).data
    element = data.type.pointee
    vector_pointer = ir.PointerType(ir.VectorType(element, lanes))
    return builder.bitcast(builder.gep(data, [index]), vector_pointer)


@intrinsic
def lanes(typingctx, array):
    if not _float_array(array):
        return None
    count = Vector(array.dtype).lanes
    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, count)
    return types.intp(array), codegen


@intrinsic
def load(typingctx, array, index):
    if not (_float_array(array) and isinstance(index, types.Integer)):
        return None
    vector = Vector(array.dtype)

    def codegen(context, builder, sig, args):
        index = context.cast(builder, args[1], sig.args[1], types.intp)
        pointer = _vector_pointer(context, builder, sig.args[0], args[0], index, vector.lanes)
        return builder.load(pointer, align=array.dtype.bitwidth // 8)
    return vector(array, index), codegen


@intrinsic
def store(typingctx, array, index, value):
    if not (_float_array(array) and isinstance(index, types.Integer)
            and value == Vector(array.dtype)):
        return None

    def codegen(context, builder, sig, args):
        index = context.cast(builder, args[1], sig.args[1], types.intp)
        pointer = _vector_pointer(context, builder, sig.args[0], args[0], index, value.lanes)
        builder.store(args[2], pointer, align=array.dtype.bitwidth // 8)
        return context.get_dummy_value()
    return types.none(array, index, value), codegen


@intrinsic
def fmadd(typingctx, acc, scalar, vector):
    if not (isinstance(acc, Vector) and vector == acc and isinstance(scalar, types.Number)):
        return None

    def codegen(context, builder, sig, args):
        vector_type = args[0].type
        s = context.cast(builder, args[1], sig.args[1], acc.dtype)
        splat = builder.insert_element(ir.Constant(vector_type, ir.Undefined), s,
                                       ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(splat, ir.Constant(vector_type, ir.Undefined),
                                       ir.Constant(ir.VectorType(ir.IntType(32), acc.lanes),
                                                   [0] * acc.lanes))
        width = acc.dtype.bitwidth
        name = f"llvm.fmuladd.v{acc.lanes}f{width}"
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector_type, [vector_type] * 3), name)
        return builder.call(function, [splat, args[2], args[0]])
    return acc(acc, scalar, vector), codegen
