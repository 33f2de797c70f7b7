using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;
using Reins.Rewards.Scoring;
using Reins.Tensors;

namespace Reins.Rewards.RewardModels;

/// <summary>
/// A user-conditioned reward in the manner of variational preference learning (Poddar et al. 2024), with a deterministic
/// encoder: the network maps each response to features φ(y) ∈ ℝ^d (a score head of d outputs); a user's latent is the
/// unit mean direction of their labelled pairs in that space, z = normalise(mean_j φ(chosen_j) − φ(rejected_j)); and the
/// user's reward is r(y | z) = ⟨φ(y), z⟩. A new user is served from a handful of their labels, with no retraining.
/// Saved as a …ForSequenceClassification checkpoint of d outputs with <see cref="FileName"/>.
/// </summary>
public sealed class UserConditionedReward(RewardModel network)
{
    /// <summary>File name marking a user-conditioned reward model.</summary>
    public const string FileName = "user_conditioned.json";

    private const float NormEpsilon = 1e-12f;

    /// <summary>The feature network.</summary>
    public RewardModel Network { get; } = network;

    /// <summary>Whether <paramref name="directory"/> holds a user-conditioned reward model.</summary>
    public static bool IsUserConditioned(string directory) => File.Exists(Path.Combine(directory, FileName));

    /// <summary>Loads a checkpoint saved by <c>reins rm --objective user</c>.</summary>
    public static UserConditionedReward Load(string directory) => new(RewardModel.LoadNetwork(directory));

    /// <summary>Writes the marker into <paramref name="directory"/>.</summary>
    public static void Save(string directory, int latentDim) =>
        File.WriteAllText(Path.Combine(directory, FileName), $"{{\n  \"user_latent_dim\": {latentDim}\n}}\n");

    /// <summary>
    /// Latents z [users, d] (differentiable) from the features [users·c, d] of each user's c context pairs, chosen and
    /// rejected, user u's at rows u·c … u·c + c − 1.
    /// </summary>
    public static Tensor Latents(Tensor chosen, Tensor rejected, int users, int contextPairs)
    {
        int d = chosen.Dim(1);
        var mean = Ops.Mean(Ops.Reshape(chosen - rejected, users, contextPairs, d), 1);
        return Ops.Div(mean, Ops.Sqrt(Ops.AddScalar(Ops.Sum(Ops.Mul(mean, mean), 1, keepDim: true), NormEpsilon)));
    }

    /// <summary>A user's latent from their labelled pairs (no gradients).</summary>
    public float[] Latent(IReadOnlyList<TokenizedPair> pairs, int batchSize, CancellationToken cancellation = default)
    {
        if (pairs.Count == 0) throw new ArgumentException("user-conditioned reward: a user needs at least one labelled pair.", nameof(pairs));
        int d = Network.Labels.Count;
        var raw = Network.RawScores([.. pairs.Select(p => p.Chosen), .. pairs.Select(p => p.Rejected)], batchSize, cancellation);
        using var tape = new Tape(recordGradients: false);
        return Latents(Tensor.FromArray(raw.AsSpan(0, pairs.Count * d), pairs.Count, d), Tensor.FromArray(raw.AsSpan(pairs.Count * d), pairs.Count, d), 1, pairs.Count).ToArray();
    }

    /// <summary>r(y | z) = ⟨φ(y), z⟩ of each sequence for the user whose latent is <paramref name="latent"/>.</summary>
    public float[] Score(IReadOnlyList<TokenizedSequence> sequences, float[] latent, int batchSize, CancellationToken cancellation = default)
    {
        int d = Network.Labels.Count;
        if (latent.Length != d) throw new ArgumentException($"user-conditioned reward: a latent of {latent.Length} values for features of {d}.", nameof(latent));
        var raw = Network.RawScores(sequences, batchSize, cancellation);
        return AttributeWeights.Combine(raw, latent);
    }
}
