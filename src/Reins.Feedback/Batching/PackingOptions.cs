namespace Reins.Feedback.Batching;

/// <summary>How <see cref="SequencePacker"/> packs documents.</summary>
/// <param name="BlockSize">Tokens per block (TRL packs to <c>max_length</c>).</param>
/// <param name="EosId">Separator appended to documents that do not already end with it.</param>
/// <param name="PadId">Id of the padding that fills a last, partial block.</param>
public sealed record PackingOptions(int BlockSize, int EosId, int PadId)
{
    /// <summary>How documents are laid into blocks.</summary>
    public PackingStrategy Strategy { get; init; } = PackingStrategy.Wrapped;
}
