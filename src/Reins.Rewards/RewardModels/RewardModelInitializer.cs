using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;

namespace Reins.Rewards.RewardModels;

/// <summary>
/// Makes a …ForSequenceClassification network from a causal language model, as transformers'
/// <c>AutoModelForSequenceClassification.from_pretrained(causal_checkpoint, num_labels=K)</c> does: the trunk is
/// copied, the LM head dropped, and a fresh <c>score.weight</c> [K, hidden] drawn from N(0, initializer_range).
/// </summary>
public static class RewardModelInitializer
{
    /// <summary>
    /// The pad id written into the reward model's config. Reins reads scores through the attention mask, but transformers
    /// reads a sequence's score at its last token that is not <c>pad_token_id</c>; were that EOS, every sequence ending in
    /// EOS would be read one token early. So PAD is used when it differs from EOS, else BOS when that does (transformers
    /// ≥ 4.48 looks for the rightmost non-pad token, so a leading BOS is harmless, but batches must then be padded with
    /// BOS there); a vocabulary whose only special token is EOS (GPT-2's) needs a PAD added to its tokenizer.
    /// </summary>
    public static int PaddingTokenId(ITextEncoder encoder)
    {
        if (encoder.PadId is { } pad && pad != encoder.EosId) return pad;
        if (encoder.BosId is { } bos && bos != encoder.EosId) return bos;
        throw new ArgumentException(
            $"reward model: the tokenizer's only special token is EOS ({encoder.EosId}), so transformers could not find a sequence's last real token " +
            "(it tells padding by the pad id); add a pad token (e.g. \"<|pad|>\") to tokenizer.json and tokenizer_config.json, and a row for it to the embedding.");
    }

    /// <summary>
    /// A reward model of <paramref name="numLabels"/> outputs with <paramref name="source"/>'s weights. A source that is
    /// already a classifier with that many outputs keeps its head (training continues); any other gets a fresh head
    /// drawn from <paramref name="seed"/>, so ensemble members differ from the start.
    /// </summary>
    public static CausalLanguageModel FromLanguageModel(CausalLanguageModel source, int numLabels, int padTokenId, ulong seed)
    {
        if (numLabels < 1) throw new ArgumentOutOfRangeException(nameof(numLabels), numLabels, "reward model: the head needs at least one output.");
        if (padTokenId == source.Config.EosTokenId)
            throw new ArgumentException($"reward model: pad_token_id {padTokenId} equals eos_token_id, so the last real token could not be found from the ids.", nameof(padTokenId));
        return WithHead(source, source.Config with { NumLabels = numLabels, PadTokenId = padTokenId, TokenClassification = false }, seed);
    }

    /// <summary>
    /// A network of <paramref name="config"/>, which differs from <paramref name="source"/>'s only in its head, holding
    /// the source's trunk; the head is the source's when it has one of the same names and shapes, else fresh from
    /// <paramref name="seed"/>.
    /// </summary>
    public static CausalLanguageModel WithHead(CausalLanguageModel source, ModelConfig config, ulong seed)
    {
        var model = CausalLanguageModel.Create(config, seed);
        model.SourceDirectory = source.SourceDirectory;
        foreach (var p in model.Parameters)
        {
            string name = p.Name!;
            if (source.HasParameter(name) && source[name].Shape.AsSpan().SequenceEqual(p.Shape)) source[name].Span.CopyTo(p.Span);
            else if (!name.StartsWith(config.ClassifierName + ".", StringComparison.Ordinal))
                throw new ArgumentException($"{config.Architecture}: the source model has no '{name}' of shape [{string.Join(", ", p.Shape)}], so it is not the same trunk.", nameof(source));
        }
        return model;
    }
}
