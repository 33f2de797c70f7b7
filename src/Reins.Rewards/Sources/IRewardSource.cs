using System.Text.Json;

namespace Reins.Rewards.Sources;

/// <summary>
/// One completion to score: the texts, the token ids the policy saw and produced, whether it ended with EOS (or a
/// stop string), and every extra field of the prompt's dataset record (e.g. "answer"), as TRL passes dataset
/// columns through to reward functions.
/// </summary>
public sealed record ScoringRequest(string Prompt, string Completion, int[] PromptIds, int[] CompletionIds, bool Finished,
    IReadOnlyDictionary<string, JsonElement> Extra);

/// <summary>
/// Anything that scores completions: a reward model, an ensemble, a verifiable function, an external program, an
/// HTTP endpoint, or a weighted sum of these. Returns one score per request, in order.
/// </summary>
public interface IRewardSource
{
    /// <summary>Name used in logs as rewards/&lt;name&gt;/mean.</summary>
    string Name { get; }

    /// <summary>Scores a batch of completions.</summary>
    float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default);
}

/// <summary>
/// A source whose one score combines several outputs (a multi-attribute reward model, a mixture of group rewards), and
/// which reports each output beside it so that they are logged too (rewards/&lt;source&gt;/&lt;output&gt;/mean).
/// </summary>
public interface IMultiOutputRewardSource : IRewardSource
{
    /// <summary>The score of each request and each output's value of it, by output name.</summary>
    (float[] Scores, IReadOnlyDictionary<string, float[]> Outputs) ScoreOutputs(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default);
}
