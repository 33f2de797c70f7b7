using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Reins.Tensors.Kernels;

/// <summary>
/// How GEMM and attention kernels read a matrix stored as <typeparamref name="TW"/> (weights, a KV cache, or
/// activations packed for the backward pass): sixteen or eight consecutive values as float32s, or one. The kernels are
/// generic over it, so float32 and bfloat16 storage share one code path and every sum runs in float32 in the same order.
/// </summary>
internal unsafe interface IStorageFormat<TW> where TW : unmanaged
{
    /// <summary>Sixteen values from <paramref name="p"/> on, as float32.</summary>
    static abstract Vector512<float> Load16(TW* p);

    /// <summary>Eight consecutive values from <paramref name="p"/> on, as float32.</summary>
    static abstract Vector256<float> Load8(TW* p);

    /// <summary>The value at <paramref name="p"/>, as float32.</summary>
    static abstract float Get(TW* p);
}

/// <summary>Float32 values, read as they are.</summary>
internal readonly unsafe struct Fp32Storage : IStorageFormat<float>
{
    public static Vector512<float> Load16(float* p) => Vector512.Load(p);

    public static Vector256<float> Load8(float* p) => Vector256.Load(p);

    public static float Get(float* p) => *p;
}

/// <summary>
/// bfloat16 values, the top half of a float32: zero-extended to 32 bits and shifted left 16 in registers, which is exact.
/// .NET has no bf16 dot-product intrinsic, so the arithmetic stays float32; what bf16 saves is memory traffic, which is
/// what decoding is bound by.
/// </summary>
internal readonly unsafe struct Bf16Storage : IStorageFormat<ushort>
{
    public static Vector512<float> Load16(ushort* p) => Avx512F.IsSupported
        ? Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle()
        : Vector512.ShiftLeft(Vector512.WidenLower(Vector512.Create(Vector256.Load(p), Vector256<ushort>.Zero)), 16).AsSingle();

    public static Vector256<float> Load8(ushort* p) => Vector256.ShiftLeft(Vector256.WidenLower(Vector256.Create(Vector128.Load(p), Vector128<ushort>.Zero)), 16).AsSingle();

    public static float Get(ushort* p) => Bf16.ToFloat(*p);
}

/// <summary>bfloat16 conversions, as torch rounds.</summary>
public static class Bf16
{
    /// <summary>Round-to-nearest-even float32 → bfloat16 (NaN stays NaN).</summary>
    public static ushort FromFloat(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>The float32 a bfloat16 stands for.</summary>
    public static float ToFloat(ushort h) => BitConverter.UInt32BitsToSingle((uint)h << 16);

    /// <summary><see cref="FromFloat(float)"/> over a span, sixteen at a time.</summary>
    public static void FromFloat(ReadOnlySpan<float> from, Span<ushort> to)
    {
        if (to.Length < from.Length) throw new ArgumentException($"bf16: {to.Length} slots cannot hold {from.Length} values.");
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float src = ref MemoryMarshal.GetReference(from);
            ref ushort dst = ref MemoryMarshal.GetReference(to);
            var exponent = Vector512.Create(0x7F800000u);
            for (; i <= from.Length - 32; i += 32)
            {
                var lo = Round(Vector512.LoadUnsafe(ref src, (nuint)i).AsUInt32(), exponent);
                var hi = Round(Vector512.LoadUnsafe(ref src, (nuint)i + 16).AsUInt32(), exponent);
                Vector512.Narrow(lo, hi).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < from.Length; i++) to[i] = FromFloat(from[i]);

        static Vector512<uint> Round(Vector512<uint> bits, Vector512<uint> exponent)
        {
            var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) >> 16;
            var nan = Vector512.GreaterThan(bits & Vector512.Create(0x7FFFFFFFu), exponent);
            return Vector512.ConditionalSelect(nan, (bits >> 16) | Vector512.Create(0x40u), rounded);
        }
    }

    /// <summary><see cref="ToFloat(ushort)"/> over a span.</summary>
    public static void ToFloat(ReadOnlySpan<ushort> from, Span<float> to)
    {
        if (to.Length < from.Length) throw new ArgumentException($"bf16: {to.Length} floats cannot hold {from.Length} values.");
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref ushort src = ref MemoryMarshal.GetReference(from);
            ref float dst = ref MemoryMarshal.GetReference(to);
            for (; i <= from.Length - 32; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref src, (nuint)i));
                (lo << 16).AsSingle().StoreUnsafe(ref dst, (nuint)i);
                (hi << 16).AsSingle().StoreUnsafe(ref dst, (nuint)i + 16);
            }
        }
        for (; i < from.Length; i++) to[i] = ToFloat(from[i]);
    }
}

/// <summary>
/// int8 values (<see cref="Int8Matrix"/>), sign-extended and converted to float32 in registers, which is exact; the
/// per-output scales are applied to the sums afterwards.
/// </summary>
internal readonly unsafe struct Int8Storage : IStorageFormat<sbyte>
{
    public static Vector512<float> Load16(sbyte* p) => Avx512F.IsSupported
        ? Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p)))
        : Vector512.Create(Load8(p), Load8(p + 8));

    public static Vector256<float> Load8(sbyte* p) => Avx2.IsSupported
        ? Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p))
        : Vector256.ConvertToSingle(Vector256.WidenLower(Vector256.WidenLower(Vector256.Create(Vector128.CreateScalar(*(long*)p).AsSByte(), Vector128<sbyte>.Zero))));

    public static float Get(sbyte* p) => *p;
}
