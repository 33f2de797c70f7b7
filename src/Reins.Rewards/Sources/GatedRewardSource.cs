using Reins.Feedback.Tokenization;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;

namespace Reins.Rewards.Sources;

/// <summary>
/// A gated (ArmoRM) reward model as a reward source: each prompt+completion re-encoded with the model's tokenizer (so
/// the gate finds the prompt's end), its reward R = β·Σₖ gₖ(x)·r′ₖ, and each attribute's gate reported for logging
/// (rewards/&lt;name&gt;/gate_&lt;attribute&gt;/mean).
/// </summary>
public sealed class GatedRewardSource(GatedRewardModel model, ITextEncoder encoder, int batchSize = 16, string name = "reward_model") : IMultiOutputRewardSource
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) => ScoreOutputs(requests, cancellation).Scores;

    /// <inheritdoc/>
    public (float[] Scores, IReadOnlyDictionary<string, float[]> Outputs) ScoreOutputs(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
    {
        var (rewards, gates) = model.Score(ScoringTokenization.FromRequests(requests, encoder, model.MaxLength, useTokenIds: false), batchSize, cancellation);
        int k = model.Settings.Attributes.Count;
        return (rewards, model.Settings.Attributes.Select((a, j) => (a, j)).ToDictionary(x => "gate_" + x.a, x => Enumerable.Range(0, requests.Count).Select(i => gates[i * k + x.j]).ToArray()));
    }
}
