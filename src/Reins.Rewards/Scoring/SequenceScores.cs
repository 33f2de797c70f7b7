namespace Reins.Rewards.Scoring;

/// <summary>
/// The rewards of a list of sequences, in input order, and named per-sequence details behind them (a multi-attribute
/// model's attribute scores, an ensemble's mean, minimum and variance), each with one value per sequence.
/// </summary>
/// <param name="Rewards">One scalar reward per sequence.</param>
/// <param name="Details">Named columns of per-sequence values; empty when the reward is all there is.</param>
public sealed record SequenceScores(float[] Rewards, IReadOnlyDictionary<string, float[]> Details);
