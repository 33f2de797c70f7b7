namespace Reins.Models.Transformers;

/// <summary>
/// A batch of token sequences as a model reads it: ids [Rows·Time]; the attention mask (1 = real token, 0 = padding,
/// on either side; null = all real); position ids (null = cumsum(mask) − 1, so a left-padded row's first real token
/// sits at position 0 as it would unpadded); for packed rows, each token's document (attention stays within it); and
/// how many of each row's last positions to compute through the last block (transformers' <c>logits_to_keep</c>, one
/// block earlier: all that a completion's log-probs, a critic's values or a reward model's score read; 0 = all).
/// </summary>
/// <param name="Ids">Token ids [Rows·Time].</param>
/// <param name="Rows">Sequences.</param>
/// <param name="Time">Positions per sequence.</param>
public sealed record ModelInput(int[] Ids, int Rows, int Time)
{
    /// <summary>1 = real token, 0 = padding, [Rows·Time]; null = every token is real.</summary>
    public float[]? AttentionMask { get; init; }
    /// <summary>Position ids [Rows·Time]; null = cumsum(mask) − 1.</summary>
    public int[]? PositionIds { get; init; }
    /// <summary>For packed rows, each token's document [Rows·Time]; null = one document per row.</summary>
    public int[]? DocumentIds { get; init; }
    /// <summary>Each row's last positions computed past the last block's keys and values (0 = all of them).</summary>
    public int KeepLast { get; init; }

    /// <summary>One unpadded sequence.</summary>
    public static ModelInput Of(int[] ids) => new(ids, 1, ids.Length);

    /// <summary>Rows of a padded batch with their mask.</summary>
    public static ModelInput Padded(int[] ids, int rows, int time, float[]? attentionMask) => new(ids, rows, time) { AttentionMask = attentionMask };

    /// <summary>Sequences left-padded to the longest, with their mask: the last real token of every row in the last column, as prefill wants it.</summary>
    public static ModelInput LeftPadded(IReadOnlyList<int[]> rows)
    {
        int time = rows.Max(r => r.Length);
        var ids = new int[rows.Count * time];
        var mask = new float[rows.Count * time];
        for (int r = 0; r < rows.Count; r++)
        {
            int pad = time - rows[r].Length;
            rows[r].CopyTo(ids, r * time + pad);
            mask.AsSpan(r * time + pad, rows[r].Length).Fill(1);
        }
        return Padded(ids, rows.Count, time, mask);
    }

    /// <summary>The positions the last block computes: <see cref="KeepLast"/>, or all of them.</summary>
    public int Kept => KeepLast == 0 ? Time : KeepLast;

    /// <summary>Throws when the arrays do not fill [Rows, Time] or the kept positions do not fit.</summary>
    public ModelInput Validate(string model)
    {
        if (Rows < 1 || Time < 1 || Ids.Length != Rows * Time)
            throw new ArgumentException($"{model}: {Ids.Length} token ids do not fill [batch {Rows}, time {Time}].");
        if (AttentionMask is { } mask && mask.Length != Rows * Time)
            throw new ArgumentException($"{model}: attention mask has {mask.Length} entries, expected {Rows * Time}.");
        if (PositionIds is { } positions && positions.Length != Rows * Time)
            throw new ArgumentException($"{model}: {positions.Length} position ids, expected {Rows * Time}.");
        if (DocumentIds is { } documents && documents.Length != Rows * Time)
            throw new ArgumentException($"{model}: {documents.Length} document ids, expected {Rows * Time}.");
        if (KeepLast < 0 || KeepLast > Time)
            throw new ArgumentOutOfRangeException(nameof(KeepLast), $"{model}: {KeepLast} last positions of {Time}.");
        if (Kept < Time && DocumentIds is not null)
            throw new ArgumentException($"{model}: lastPositions cannot be combined with packed documents (documentIds).");
        return this;
    }
}
