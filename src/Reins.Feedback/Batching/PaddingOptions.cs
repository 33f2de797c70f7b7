using Reins.Feedback.Tokenization;

namespace Reins.Feedback.Batching;

/// <summary>How <see cref="BatchCollator"/> pads rows to a common length.</summary>
/// <param name="PadId">The id written into padding positions (masked out, so any valid id works).</param>
public sealed record PaddingOptions(int PadId)
{
    /// <summary>The side of padding for training batches; prompt batches are always left-padded.</summary>
    public PaddingSide Side { get; init; } = PaddingSide.Right;

    /// <summary>Round the batch length up to a multiple of this (TRL <c>pad_to_multiple_of</c>), for kernels that like aligned widths.</summary>
    public int PadToMultipleOf { get; init; } = 1;

    /// <summary>Padding with the encoder's PAD id, or its EOS when it has none (as TRL does for GPT-2-style vocabularies).</summary>
    public static PaddingOptions For(ITextEncoder encoder) =>
        new(encoder.PadId ?? encoder.EosId ?? throw new ArgumentException("The encoder has neither a PAD nor an EOS id; give PaddingOptions a pad id.", nameof(encoder)));
}
