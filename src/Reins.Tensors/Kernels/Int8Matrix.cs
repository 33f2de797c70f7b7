using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Reins.Tensors.Kernels;

/// <summary>
/// A weight matrix quantised to int8 for sampling (rollout_dtype int8): each output's weights w share one scale
/// s = max|w| / 127 and are stored as q = round(w / s) in [−127, 127] (absmax, per output channel, as LLM.int8() and
/// bitsandbytes' 8-bit weights scale them, without their outlier split), so an output is s · Σ x·q: the sum runs in
/// float32 on the exact small integers and the scale comes last. Stored [outputs, inputs], so a decoding step reads each
/// output's weights as one contiguous run of bytes, a quarter of float32's.
/// </summary>
public sealed class Int8Matrix
{
    /// <summary>q, [outputs, inputs] row-major.</summary>
    public sbyte[] Values { get; }

    /// <summary>s per output.</summary>
    public float[] Scales { get; }

    /// <summary>Rows of <see cref="Values"/>.</summary>
    public int Outputs { get; }

    /// <summary>Columns of <see cref="Values"/>.</summary>
    public int Inputs { get; }

    private Int8Matrix(int outputs, int inputs)
    {
        (Outputs, Inputs) = (outputs, inputs);
        Values = GC.AllocateUninitializedArray<sbyte>(checked(outputs * inputs), pinned: true);
        Scales = new float[outputs];
    }

    /// <summary>Writes output <c>o</c>'s float32 weights (one row of [outputs, inputs]) into the span.</summary>
    public delegate void RowSource(int output, Span<float> row);

    /// <summary>Quantises the matrix whose rows <paramref name="row"/> gives, into <paramref name="reuse"/>'s storage when it has this shape.</summary>
    public static Int8Matrix Quantize(int outputs, int inputs, RowSource row, Int8Matrix? reuse = null)
    {
        var m = reuse is { } r && r.Outputs == outputs && r.Inputs == inputs ? r : new Int8Matrix(outputs, inputs);
        // Rows in parallel: each is quantised on its own, so the cut changes nothing.
        Engine.ForRanges(outputs, Math.Max(1, (1 << 16) / Math.Max(1, inputs)), (first, count) =>
        {
            var w = new float[inputs];
            for (int o = first; o < first + count; o++)
            {
                row(o, w);
                float max = inputs == 0 ? 0 : MathF.Abs(TensorPrimitives.MaxMagnitude(w));
                // An all-zero row keeps scale 1 (its codes are 0 either way), so no output divides by zero.
                float s = max > 0 ? max / 127f : 1f;
                m.Scales[o] = s;
                Codes(w, s, m.Values.AsSpan(o * inputs, inputs));
            }
        });
        return m;
    }

    // q = round(w / s), to nearest even; |w / s| ≤ 127 up to rounding, so every code fits without clamping. One pass in
    // registers: TensorPrimitives' float-to-sbyte conversion runs a value at a time (3.3 ns each, measured).
    private static unsafe void Codes(ReadOnlySpan<float> w, float s, Span<sbyte> q)
    {
        int i = 0;
        if (Avx512F.IsSupported)
            fixed (float* src = w)
            fixed (sbyte* dst = q)
            {
                var scale = Vector512.Create(s);
                for (; i + 16 <= w.Length; i += 16)
                    Avx512F.ConvertToVector128SByte(Vector512.ConvertToInt32(Vector512.Round(Vector512.Load(src + i) / scale))).Store(dst + i);
            }
        for (; i < w.Length; i++) q[i] = (sbyte)MathF.Round(w[i] / s);
    }

    /// <summary>The weight the code at (output, input) stands for: s · q.</summary>
    public float Dequantized(int output, int input) => Scales[output] * Values[output * Inputs + input];

    /// <summary>
    /// Turns sums over the codes into outputs: every row of <paramref name="y"/> ([rows, Outputs]) times the scales, plus
    /// <paramref name="bias"/> when given.
    /// </summary>
    public void ScaleOutputs(Span<float> y, int rows, ReadOnlySpan<float> bias)
    {
        if (y.Length < rows * Outputs) throw new ArgumentException($"int8: {y.Length} outputs cannot hold {rows} rows of {Outputs}.");
        for (int r = 0; r < rows; r++)
        {
            var row = y.Slice(r * Outputs, Outputs);
            TensorPrimitives.Multiply(row, Scales, row);
            if (!bias.IsEmpty) TensorPrimitives.Add(row, bias, row);
        }
    }
}
