using Reins.Feedback.Tokenization;

namespace Reins.Feedback.Batching;

/// <summary>Pads tokenized records into the batches the trainers consume (TRL's data collators).</summary>
public sealed class BatchCollator(PaddingOptions options)
{
    private const int Ignore = TokenizedSequence.IgnoreIndex;

    /// <summary>The padding in force.</summary>
    public PaddingOptions Options { get; } = options.PadToMultipleOf >= 1 ? options
        : throw new ArgumentOutOfRangeException(nameof(options), options.PadToMultipleOf, "PadToMultipleOf must be at least 1.");

    /// <summary>Padded SFT sequences.</summary>
    public SftBatch Sft(IReadOnlyList<TokenizedSequence> sequences) => new(Pad(sequences, Options.Side));

    /// <summary>Packed blocks (all of one length) with their position and document ids.</summary>
    public static SftBatch Packed(IReadOnlyList<PackedBlock> blocks)
    {
        if (blocks.Count == 0) throw new ArgumentException("A batch needs at least one block.", nameof(blocks));
        int length = blocks[0].InputIds.Length;
        if (blocks.Any(b => b.InputIds.Length != length)) throw new ArgumentException("Packed blocks must all have one length.", nameof(blocks));
        int[] Concat(Func<PackedBlock, int[]> part) => blocks.SelectMany(part).ToArray();
        var mask = blocks.SelectMany(b => b.DocumentIds.Select(d => d >= 0 ? 1f : 0f)).ToArray();
        var tokens = new TokenBatch(blocks.Count, length, Concat(b => b.InputIds), mask, Concat(b => b.Labels));
        return new SftBatch(tokens, Concat(b => b.PositionIds), Concat(b => b.DocumentIds));
    }

    /// <summary>All chosen rows, then all rejected rows, padded to one length.</summary>
    public PreferenceBatch Preference(IReadOnlyList<TokenizedPair> pairs) =>
        new(pairs.Count, Pad([.. pairs.Select(p => p.Chosen), .. pairs.Select(p => p.Rejected)], Options.Side));

    /// <summary>KTO rows and their labels.</summary>
    public UnpairedBatch Unpaired(IReadOnlyList<TokenizedUnpaired> records) =>
        new(Pad(records.Select(r => r.Sequence).ToArray(), Options.Side), records.Select(r => r.Desirable).ToArray());

    /// <summary>Rows and their [rows, attributes] targets.</summary>
    public RatingBatch Ratings(IReadOnlyList<TokenizedRating> records)
    {
        if (records.Count == 0) throw new ArgumentException("A batch needs at least one record.", nameof(records));
        var attributes = records[0].Attributes;
        if (records.Any(r => !r.Attributes.SequenceEqual(attributes)))
            throw new ArgumentException("Every record of a ratings batch must have the same attributes.", nameof(records));
        return new RatingBatch(Pad(records.Select(r => r.Sequence).ToArray(), Options.Side), attributes, records.SelectMany(r => r.Targets).ToArray());
    }

    /// <summary>Prompts, always left-padded, since generation continues every row from its last position.</summary>
    public PromptBatch Prompts(IReadOnlyList<TokenizedPrompt> prompts)
    {
        var tokens = Pad(prompts.Select(p => new TokenizedSequence(p.InputIds, p.InputIds)).ToArray(), PaddingSide.Left);
        return new PromptBatch(tokens.Rows, tokens.Length, tokens.InputIds, tokens.AttentionMask, prompts.Select(p => p.Source).ToArray());
    }

    private TokenBatch Pad(IReadOnlyList<TokenizedSequence> rows, PaddingSide side)
    {
        if (rows.Count == 0) throw new ArgumentException("A batch needs at least one row.", nameof(rows));
        int longest = rows.Max(r => r.Length);
        int length = (longest + Options.PadToMultipleOf - 1) / Options.PadToMultipleOf * Options.PadToMultipleOf;
        var ids = new int[rows.Count * length];
        var mask = new float[rows.Count * length];
        var labels = new int[rows.Count * length];
        Array.Fill(ids, Options.PadId);
        Array.Fill(labels, Ignore);
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            int start = r * length + (side == PaddingSide.Left ? length - row.Length : 0);
            row.InputIds.CopyTo(ids, start);
            row.Labels.CopyTo(labels, start);
            mask.AsSpan(start, row.Length).Fill(1f);
        }
        return new TokenBatch(rows.Count, length, ids, mask, labels);
    }
}
