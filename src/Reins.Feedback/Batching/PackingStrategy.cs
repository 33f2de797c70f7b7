namespace Reins.Feedback.Batching;

/// <summary>How documents are laid into blocks (TRL's <c>packing_strategy</c>).</summary>
public enum PackingStrategy
{
    /// <summary>Concatenate every document in order and cut the stream into blocks; a document may continue in the next block. Loses no token.</summary>
    Wrapped,
    /// <summary>
    /// Best-fit decreasing: whole documents, longest first, each into the fullest block that still has room, so no
    /// document is split; documents longer than a block are truncated (and counted).
    /// </summary>
    BestFitDecreasing,
}
