namespace Reins.Tensors.Nn;

/// <summary>
/// A low-rank adapter on a linear layer (LoRA, Hu et al. 2021): the layer's output gains
/// scaling · B·A·dropout(x), with A [r, in] and B [out, r] trained while the layer's own weight stays frozen. PEFT's
/// layout and initialisation: A Kaiming-uniform (bound 1/√in), B zero, so a fresh adapter changes nothing.
/// </summary>
public sealed class LoraAdapter(Tensor a, Tensor b, float scaling, float dropout)
{
    /// <summary>lora_A.weight [r, in].</summary>
    public Tensor A { get; } = a;
    /// <summary>lora_B.weight [out, r].</summary>
    public Tensor B { get; } = b;
    /// <summary>lora_alpha / r (or / √r with rsLoRA).</summary>
    public float Scaling { get; } = scaling;
    /// <summary>Dropout on the adapter's input while training.</summary>
    public float Dropout { get; } = dropout;
    /// <summary>Draws the dropout masks; set by the trainer for each micro-batch so masks depend on the step, not on history.</summary>
    public Rng? DropoutRng { get; set; }

    /// <summary>scaling · (dropout(x)·Aᵀ)·Bᵀ, dropout only while a tape records and the adapter trains.</summary>
    public Tensor Forward(Tensor x)
    {
        var input = Dropout > 0 && Tape.IsRecording && A.RequiresGrad
            ? Ops.Dropout(x, Dropout, DropoutRng ?? throw new InvalidOperationException($"{A.Name}: lora_dropout needs a generator (the trainer seeds one per micro-batch)."))
            : x;
        // Scaling the rank-r activations rather than the output costs r values a row, not out.
        return Ops.Linear(Ops.MulScalar(Ops.Linear(input, A, null, Ops.WeightLayout.OutIn), Scaling), B, null, Ops.WeightLayout.OutIn);
    }

    /// <summary>The update the adapter makes to a weight of <paramref name="layout"/>: scaling·B·A [out, in], transposed for [in, out] (PEFT's fan_in_fan_out).</summary>
    public float[] WeightDelta(Ops.WeightLayout layout)
    {
        int r = A.Dim(0), input = A.Dim(1), output = B.Dim(0);
        var a = A.Span; var b = B.Span;
        var delta = new float[output * input];
        for (int o = 0; o < output; o++)
            for (int k = 0; k < r; k++)
            {
                float scaled = Scaling * b[o * r + k];
                if (scaled == 0) continue;
                for (int i = 0; i < input; i++)
                {
                    int at = layout == Ops.WeightLayout.OutIn ? o * input + i : i * output + o;
                    delta[at] += scaled * a[k * input + i];
                }
            }
        return delta;
    }
}
