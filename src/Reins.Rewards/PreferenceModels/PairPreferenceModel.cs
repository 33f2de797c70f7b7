using System.Text.Json;
using System.Text.Json.Serialization;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Chat;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Rewards.Sources;

namespace Reins.Rewards.PreferenceModels;

/// <summary>
/// A pair preference model: one reward-model network that reads the prompt and both responses, "A, separator, B", as
/// PairRM-style judges do, so it can hold preferences no score of one response can (a cycle). Its logit of A over B is
/// f(A, B) − f(B, A), so P(A ≻ B) + P(B ≻ A) = 1 by construction; trained as a Bradley–Terry model whose chosen
/// sequence is "chosen, separator, rejected" and rejected sequence the swap (<c>reins rm --objective pair</c>).
/// Saved as a …ForSequenceClassification checkpoint with <see cref="FileName"/> naming the separator.
/// </summary>
public sealed class PairPreferenceModel(RewardModel network, string separator)
{
    /// <summary>File name inside a pair preference model's directory.</summary>
    public const string FileName = "pair_preference.json";

    /// <summary>The separator a model trained with the defaults puts between the two responses.</summary>
    public const string DefaultSeparator = "\n\n[versus]\n\n";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private sealed record Settings([property: JsonPropertyName("separator")] string Separator);

    /// <summary>The network reading joined pairs.</summary>
    public RewardModel Network { get; } = network;

    /// <summary>What stands between the two responses.</summary>
    public string Separator { get; } = separator;

    /// <summary>Whether <paramref name="directory"/> holds a pair preference model.</summary>
    public static bool IsPairModel(string directory) => File.Exists(Path.Combine(directory, FileName));

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/>.</summary>
    public static void Save(string directory, string separator) =>
        File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(new Settings(separator), Indented));

    /// <summary>Loads a checkpoint saved by <c>reins rm --objective pair</c>.</summary>
    public static PairPreferenceModel Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        Settings? settings;
        try { settings = JsonSerializer.Deserialize<Settings>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON: {e.Message}"); }
        if (settings?.Separator is not { Length: > 0 } separator) throw new InvalidDataException($"{path}: expected a non-empty \"separator\".");
        var network = RewardModel.LoadNetwork(directory);
        if (network.Labels.Count != 1) throw new InvalidDataException($"{directory}: a pair preference model has one output, not {network.Labels.Count}.");
        return new PairPreferenceModel(network, separator);
    }

    /// <summary>
    /// The training pair of a preference: chosen "chosen, separator, rejected" and rejected the swap, so the
    /// Bradley–Terry loss on them is −log σ(f(c, r) − f(r, c)). Conversational responses join their last messages' contents.
    /// </summary>
    public static PreferenceExample Joined(PreferenceExample example, string separator) => example with
    {
        Chosen = Join(example.Chosen, example.Rejected, separator),
        Rejected = Join(example.Rejected, example.Chosen, separator),
    };

    private static TextOrConversation Join(TextOrConversation first, TextOrConversation second, string separator)
    {
        if (first.Text is { } a && second.Text is { } b) return TextOrConversation.FromText(a + separator + b);
        if (first.Messages is [.., var last] && second.Messages is [.., var other])
            return TextOrConversation.FromMessages([.. first.Messages.SkipLast(1), last with { Content = last.Content + separator + other.Content }]);
        throw new ArgumentException("pair preference model: the two responses of a pair must both be text or both be conversations.");
    }

    /// <summary>The logit f(first, second) − f(second, first) of each pair of completions to the same prompt, re-encoded with <paramref name="encoder"/>.</summary>
    public float[] PairScores(IReadOnlyList<(ScoringRequest First, ScoringRequest Second)> pairs, ITextEncoder encoder, int batchSize, CancellationToken cancellation = default)
    {
        ScoringRequest Joined(ScoringRequest a, ScoringRequest b) =>
            a with { Completion = Join(TextOrConversation.FromText(a.Completion), TextOrConversation.FromText(b.Completion), Separator).Text!, Finished = a.Finished && b.Finished };
        var requests = pairs.Select(p => Joined(p.First, p.Second)).Concat(pairs.Select(p => Joined(p.Second, p.First))).ToArray();
        var raw = Network.RawScores(ScoringTokenization.FromRequests(requests, encoder, Network.MaxLength, useTokenIds: false), batchSize, cancellation);
        return [.. pairs.Select((_, i) => raw[i] - raw[pairs.Count + i])];
    }
}
